from django.urls import path, register_converter

from community import api, views


class IdConverter:
    """A row id: 1 to 18 digits, so that a longer number is a 404 here, not an integer the
    database cannot hold (a 500)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class UsernameConverter:
    """A username as accounts stores them (``views.USERNAME``): no slash, no control
    character, at most 150 characters."""

    regex = views.USERNAME.pattern

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(IdConverter, "forum_id")
register_converter(UsernameConverter, "forum_username")

urlpatterns = [
    path("community", views.topic_list, name="community"),
    path("community/new", views.topic_new, name="topic-new"),
    path("community/users/<forum_username:username>", views.user_profile, name="community-user"),
    path("community/topics/<forum_id:topic_id>", views.topic_detail, name="topic"),
    path("community/topics/<forum_id:topic_id>/edit", views.topic_edit, name="topic-edit"),
    path("community/topics/<forum_id:topic_id>/replies", views.reply, name="topic-reply"),
    path("community/topics/<forum_id:topic_id>/like", views.like, name="topic-like"),
    path("community/topics/<forum_id:topic_id>/changes", views.topic_changes, name="topic-changes"),
    path("community/topics/<forum_id:topic_id>/delete", views.topic_delete, name="topic-delete"),
    path("community/replies/<forum_id:reply_id>/edit", views.reply_edit, name="reply-edit"),
    path("community/replies/<forum_id:reply_id>/delete", views.reply_delete, name="reply-delete"),
    path("community/shares/<forum_id:shared_id>/clone", views.clone, name="shared-clone"),
    path("community/renders/<forum_id:version_id>.html", views.rendered_notebook, name="render"),
    path(
        "community/versions/<forum_id:version_id>/thumbnail.png",
        views.thumbnail,
        name="version-thumbnail",
    ),
    path(
        "community/versions/<forum_id:version_id>/download",
        views.download,
        name="version-download",
    ),
    path("api/community/shares", api.ShareApi.as_view(), name="api-shares"),
]
