from django.urls import path

from community import api, views

urlpatterns = [
    path("community", views.topic_list, name="community"),
    path("community/topics/<int:topic_id>", views.topic_detail, name="topic"),
    path("community/topics/<int:topic_id>/replies", views.reply, name="topic-reply"),
    path("community/topics/<int:topic_id>/like", views.like, name="topic-like"),
    path("community/topics/<int:topic_id>/delete", views.topic_delete, name="topic-delete"),
    path("community/renders/<int:version_id>.html", views.rendered_notebook, name="render"),
    path("community/versions/<int:version_id>/download", views.download, name="version-download"),
    path("community/versions/<int:version_id>/clone", views.clone, name="version-clone"),
    path("api/community/shares", api.ShareApi.as_view(), name="api-shares"),
]
