from django.urls import path

from community import api, views

urlpatterns = [
    path("community", views.topic_list, name="community"),
    path("community/new", views.topic_new, name="topic-new"),
    path("community/users/<str:username>", views.user_profile, name="community-user"),
    path("community/topics/<int:topic_id>", views.topic_detail, name="topic"),
    path("community/topics/<int:topic_id>/edit", views.topic_edit, name="topic-edit"),
    path("community/topics/<int:topic_id>/replies", views.reply, name="topic-reply"),
    path("community/topics/<int:topic_id>/like", views.like, name="topic-like"),
    path("community/topics/<int:topic_id>/delete", views.topic_delete, name="topic-delete"),
    path("community/replies/<int:reply_id>/edit", views.reply_edit, name="reply-edit"),
    path("community/replies/<int:reply_id>/delete", views.reply_delete, name="reply-delete"),
    path("community/shares/<int:shared_id>/clone", views.clone, name="shared-clone"),
    path("community/renders/<int:version_id>.html", views.rendered_notebook, name="render"),
    path(
        "community/versions/<int:version_id>/thumbnail.png",
        views.thumbnail,
        name="version-thumbnail",
    ),
    path("community/versions/<int:version_id>/download", views.download, name="version-download"),
    path("api/community/shares", api.ShareApi.as_view(), name="api-shares"),
]
