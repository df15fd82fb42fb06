"""The forum's writes: topics, replies and tags, moderation, and who may edit what.

Authors edit and delete their own posts while the topic is open (not hidden, not locked);
staff may always (``may_edit``, the one rule for every path that changes a topic, re-sharing its
notebook included), on the forum's pages and in the admin alike. Markdown is sanitized when it
is saved, so pages show stored HTML as is.
"""

import re

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from community.models import Like, Reply, Tag, Topic
from community.sanitize import markdown_to_html
from quantsite.accounts.models import User
from quantsite.exceptions import ApplicationError

TAG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MAX_TAGS = 5


def tag_names_clean(names) -> list[str]:
    """Lowercased, deduplicated tag names in their order; ``ValueError`` names what is wrong.

    Takes a list of names or one comma-separated string.
    """
    if isinstance(names, str):
        names = names.split(",")
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ValueError("Tags are a list of names.")
    cleaned: list[str] = []
    for name in (n.strip().lower() for n in names):
        if not name or name in cleaned:
            continue
        if not TAG_PATTERN.fullmatch(name):
            raise ValueError(
                f"{name[:40]!r} is not a tag: up to 32 lowercase letters, digits and dashes, "
                "starting with a letter or digit."
            )
        cleaned.append(name)
    if len(cleaned) > MAX_TAGS:
        raise ValueError(f"At most {MAX_TAGS} tags.")
    return cleaned


def topic_tags_set(topic: Topic, names: list[str]) -> None:
    """Give ``topic`` exactly these tags (names already cleaned), creating new ones."""
    topic.tags.set([Tag.objects.get_or_create(name=name)[0] for name in names])


class ForumPermissionDenied(ApplicationError, PermissionDenied):
    """A change the forum's rules do not allow: 403 with the reason, as JSON on the APIs and
    as the site's 403 page elsewhere."""

    status_code = 403


def may_edit(user: User, *, author_id: int, topic: Topic) -> bool:
    """The one rule for every change to a topic or a reply (the edit forms, deleting, and a
    re-share of the topic's notebook): staff always; the author while the topic is neither
    locked nor hidden; nobody else."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return True
    return author_id == user.pk and not topic.locked and not topic.hidden


def edit_check(user: User, *, author_id: int, topic: Topic) -> None:
    """``may_edit``, or ``ForumPermissionDenied`` saying why not."""
    if may_edit(user, author_id=author_id, topic=topic):
        return
    if author_id != user.pk:
        raise ForumPermissionDenied("Only the author can change this.")
    if topic.hidden:
        raise ForumPermissionDenied("The moderators hid this topic: it cannot be changed.")
    raise ForumPermissionDenied("The moderators locked this topic: it cannot be changed.")


@transaction.atomic
def topic_create(*, author: User, title: str, body: str, tags: list[str]) -> Topic:
    topic = Topic.objects.create(
        author=author, title=title, body=body, body_html=markdown_to_html(body)
    )
    topic_tags_set(topic, tags)
    return topic


@transaction.atomic
def topic_edit(*, topic: Topic, editor: User, title: str, body: str, tags: list[str]) -> Topic:
    """The author (or staff) changes the title, the Markdown body and the tags."""
    edit_check(editor, author_id=topic.author_id, topic=topic)
    topic.title, topic.body, topic.body_html = title, body, markdown_to_html(body)
    topic.edited = timezone.now()
    topic.save(update_fields=["title", "body", "body_html", "edited", "updated"])
    topic_tags_set(topic, tags)
    return topic


def topic_delete(*, topic: Topic, editor: User) -> None:
    """The author (or staff) deletes a topic, with its shared notebook's record (its versions
    and their clone records go with it; the stored files are shared by content and stay).
    ``ForumPermissionDenied`` if ``editor`` may not."""
    edit_check(editor, author_id=topic.author_id, topic=topic)
    if topic.shared_notebook_id:
        topic.shared_notebook.delete()  # cascades to the topic
    else:
        topic.delete()


@transaction.atomic
def topics_delete(*, topics: QuerySet[Topic], editor: User) -> int:
    """``topic_delete`` for each of ``topics`` (a moderator's bulk delete), all or none;
    return how many were deleted."""
    deleted = 0
    for topic in topics.select_related("shared_notebook"):
        topic_delete(topic=topic, editor=editor)
        deleted += 1
    return deleted


def topics_moderate(
    *, topics: QuerySet[Topic], hidden: bool | None = None, locked: bool | None = None
) -> int:
    """Moderators hide (or show again) and lock (or unlock) ``topics``; None leaves that flag
    as it is (one of them is given). Return how many topics there were. Hiding takes a topic,
    its replies and its notebook's files off the forum (``community.selectors``); locking
    freezes it for its author (``may_edit``) and closes it to replies."""
    flags = {"hidden": hidden, "locked": locked}
    return topics.update(**{name: value for name, value in flags.items() if value is not None})


def replies_moderate(*, replies: QuerySet[Reply], hidden: bool) -> int:
    """Moderators hide replies from their topics, or show them again."""
    return replies.update(hidden=hidden)


def post_staff_save(*, post: Topic | Reply) -> None:
    """Save a topic or a reply as a moderator changed it in the admin: its HTML is rendered
    again from its Markdown body, sanitized as an author's is."""
    post.body_html = markdown_to_html(post.body)
    post.save()


@transaction.atomic
def like_toggle(*, topic: Topic, user: User) -> bool:
    """Like ``topic``, or take the like back if there is one; True if it is liked now. The
    topic's ``like_count`` changes in the same transaction."""
    deleted, _ = Like.objects.filter(topic=topic, user=user).delete()
    if deleted:
        Topic.objects.filter(pk=topic.pk).update(like_count=F("like_count") - 1)
        return False
    try:
        with transaction.atomic():
            Like.objects.create(topic=topic, user=user)
    except IntegrityError:  # the same person liked it at the same moment elsewhere
        return True
    Topic.objects.filter(pk=topic.pk).update(like_count=F("like_count") + 1)
    return True


def reply_create(*, topic: Topic, author: User, body: str) -> Reply:
    if topic.locked or topic.hidden:
        raise ForumPermissionDenied("This topic is locked.")
    return Reply.objects.create(
        topic=topic, author=author, body=body, body_html=markdown_to_html(body)
    )


def reply_edit(*, reply: Reply, editor: User, body: str) -> Reply:
    edit_check(editor, author_id=reply.author_id, topic=reply.topic)
    reply.body, reply.body_html, reply.edited = body, markdown_to_html(body), timezone.now()
    reply.save(update_fields=["body", "body_html", "edited"])
    return reply


def reply_delete(*, reply: Reply, editor: User) -> None:
    edit_check(editor, author_id=reply.author_id, topic=reply.topic)
    reply.delete()


@transaction.atomic
def replies_delete(*, replies: QuerySet[Reply], editor: User) -> int:
    """``reply_delete`` for each of ``replies`` (a moderator's bulk delete), all or none;
    return how many were deleted."""
    deleted = 0
    for reply in replies.select_related("topic"):
        reply_delete(reply=reply, editor=editor)
        deleted += 1
    return deleted
