"""Reads of the forum and its shared notebooks, and who may see what.

Visibility is decided here, for the ``viewer`` of each read, and nowhere else:

- A topic the moderators hid is gone from the forum for every reader, its author and staff
  included (staff see it, and show it again, in the admin). Its replies, its likes and the
  lineage links to it go with it, and so does cloning its notebook.
- A hidden reply is gone from its topic for every reader.
- A shared notebook's files (the rendered page, the thumbnail, the .ipynb) follow their
  topic, except that staff may still open a hidden topic's files, to judge what was hidden.

Results are querysets, model instances (None for "not there, or not for this viewer") and
small dataclasses; the views turn them into pages.
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum

from community.models import Clone, Reply, SharedNotebook, SharedNotebookVersion, Topic
from quantsite.accounts.models import User

Viewer = User | AnonymousUser
Ready = SharedNotebookVersion.RenderState.READY

# Each sort has its index (community.models.Topic), which ends with the id: a page's ids come
# from the index alone, however deep the page.
TOPIC_SORTS = {
    "latest": ("-created", "-id"),
    "liked": ("-like_count", "-created", "-id"),
    "cloned": ("-clone_count", "-created", "-id"),
}
TOPICS_PER_PAGE = 50
# What a topic's card in a list shows.
LISTING_FIELDS = ("title", "created", "shared_notebook_id", "like_count", "clone_count")


# Visibility ------------------------------------------------------------------------------


def _topic_visible_q(*, viewer: Viewer, through: str = "") -> Q:
    """The condition on a topic that ``viewer`` may read (not hidden, for every viewer, staff
    included), on the topic itself or on the one a lookup path ``through`` reaches (such as
    ``"shared__topic__"``), so that a read through a relation joins instead of nesting."""
    return Q(**{f"{through}hidden": False})


def topics_visible(*, viewer: Viewer) -> QuerySet[Topic]:
    """The topics ``viewer`` may read."""
    return Topic.objects.filter(_topic_visible_q(viewer=viewer))


def topic_visible(*, viewer: Viewer, topic_id: int) -> Topic | None:
    """The topic with its author and shared notebook, if ``viewer`` may read it."""
    return (
        topics_visible(viewer=viewer)
        .select_related("author", "shared_notebook")
        .filter(pk=topic_id)
        .first()
    )


def replies_visible(*, viewer: Viewer, topic: Topic) -> QuerySet[Reply]:
    """The replies of ``topic`` (one ``viewer`` may read) that are not hidden, oldest first,
    with their authors."""
    return topic.replies.filter(hidden=False).select_related("author")


def reply_visible(*, viewer: Viewer, reply_id: int) -> Reply | None:
    """The reply with its topic, if neither is hidden."""
    return (
        Reply.objects.select_related("topic")
        .filter(_topic_visible_q(viewer=viewer, through="topic__"), pk=reply_id, hidden=False)
        .first()
    )


def version_visible(
    *, viewer: Viewer, version_id: int, rendered: bool = False
) -> SharedNotebookVersion | None:
    """A shared notebook version (with its notebook and topic) whose files ``viewer`` may
    open: its topic is not hidden, or the viewer is staff. Only a version rendered ready if
    ``rendered``. A version whose notebook has no topic (being deleted) is nobody's."""
    versions = SharedNotebookVersion.objects.select_related("shared__topic").filter(
        pk=version_id, shared__topic__isnull=False
    )
    if rendered:
        versions = versions.filter(render_state=Ready)
    if not viewer.is_staff:
        versions = versions.filter(_topic_visible_q(viewer=viewer, through="shared__topic__"))
    return versions.first()


def shared_notebook_visible(*, viewer: Viewer, shared_id: int) -> SharedNotebook | None:
    """The shared notebook, if its topic is one ``viewer`` may read."""
    return (
        SharedNotebook.objects.filter(_topic_visible_q(viewer=viewer, through="topic__"))
        .filter(pk=shared_id)
        .first()
    )


def shared_notebook_version(
    *, shared: SharedNotebook, number: int | None
) -> SharedNotebookVersion | None:
    """Version ``number`` of ``shared`` (one a viewer may see), or its newest if None."""
    versions = shared.versions.order_by("-number")
    if number is not None:
        versions = versions.filter(number=number)
    return versions.first()


# A topic's page --------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicNotebook:
    """What a topic's page shows of its shared notebook."""

    versions: list[SharedNotebookVersion]  # all of them, oldest first, without previews
    version: SharedNotebookVersion  # the one asked for, else the newest
    origin: SharedNotebookVersion | None  # the version it was cloned from, if visible
    derived: list[Topic]  # up to 20 visible topics of notebooks cloned from this one
    # The headings of ``version`` (community.services.outline); empty until it is rendered.
    outline: list[dict]
    # The versions "What changed" compares: the one before ``version`` and it (the first and
    # the second when it is the first); None for a notebook of one version.
    changes: tuple[int, int] | None


def topic_notebook(*, viewer: Viewer, topic: Topic, number: str | None) -> TopicNotebook | None:
    """The shared notebook of ``topic`` (one ``viewer`` may read) as its page shows it, at
    version ``number`` (as given in the address); None for a topic without a notebook."""
    if not topic.shared_notebook_id:
        return None
    shared = topic.shared_notebook
    versions = list(shared.versions.defer("preview_html", "outline").order_by("number"))
    version = next((v for v in versions if str(v.number) == number), versions[-1])
    # Only the shown version's outline is read (up to 200 headings; a notebook may have
    # many versions).
    outline = version.outline if version.render_state == Ready else []
    changes = None
    if len(versions) > 1:
        at = max(versions.index(version), 1)
        changes = (versions[at - 1].number, versions[at].number)
    origin = (
        SharedNotebookVersion.objects.select_related("shared__topic", "shared__author")
        .filter(_topic_visible_q(viewer=viewer, through="shared__topic__"))
        .filter(pk=shared.cloned_from_id)
        .first()
    )
    derived = (
        topics_visible(viewer=viewer)
        .filter(shared_notebook__cloned_from__shared=shared)
        .select_related("author")
    )
    return TopicNotebook(versions, version, origin, list(derived[:20]), outline, changes)


def topic_liked(*, topic: Topic, user: Viewer) -> bool:
    return user.is_authenticated and topic.likes.filter(user=user).exists()


def topic_tag_names(*, topic: Topic) -> list[str]:
    """The names of ``topic``'s tags, in order."""
    return list(topic.tags.values_list("name", flat=True))


# People ----------------------------------------------------------------------------------


def person_get(*, username: str) -> User | None:
    """The active user with this username (any case), whose page the forum shows."""
    return User.objects.filter(username=username.lower(), is_active=True).first()


@dataclass(frozen=True)
class SharingTotals:
    shared: int  # notebooks the person shared (on visible topics)
    clones: int  # times others cloned them


def person_sharing_totals(*, viewer: Viewer, person: User) -> SharingTotals:
    totals = (
        topics_visible(viewer=viewer)
        .filter(author=person, shared_notebook__isnull=False)
        .aggregate(count=Count("pk"), clones=Sum("clone_count"))
    )
    return SharingTotals(shared=totals["count"], clones=totals["clones"] or 0)


# Lists of topics -------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicListing:
    """One topic of a list page, with what its card shows."""

    topic: Topic  # only LISTING_FIELDS, with its author's username and name
    tag_names: list[str]  # sorted
    preview: SharedNotebookVersion | None  # the newest version rendered ready


@dataclass(frozen=True)
class TopicPage:
    page: Page  # of topic ids
    listings: list[TopicListing]


def topic_page(
    *,
    viewer: Viewer,
    sort: str = "latest",
    query: str = "",
    tag: str = "",
    page_number: str | int | None = None,
    author: User | None = None,
) -> TopicPage:
    """One page of the topics ``viewer`` may read (by ``author`` only, if given), with tag
    ``tag`` and matching ``query`` (``topic_search``) if given, in order ``sort`` (a key of
    ``TOPIC_SORTS``). ``page_number`` as Django's ``Paginator.get_page`` takes it: anything
    that is not a page number is the first page, and past the end the last."""
    topics = topics_visible(viewer=viewer)
    if author is not None:
        topics = topics.filter(author=author)
    if tag:
        topics = topics.filter(tags__name=tag)
    if query:
        topics = topic_search(topics, query=query)
    page = _id_page(topics, sort=sort, page_number=page_number)
    listed = _topics_in_order(list(page.object_list))
    tags = _tag_names(topic_ids=[topic.pk for topic in listed])
    previews = _newest_ready_versions(
        shared_ids=[topic.shared_notebook_id for topic in listed if topic.shared_notebook_id]
    )
    listings = [
        TopicListing(
            topic=topic,
            tag_names=sorted(tags.get(topic.pk, [])),
            preview=previews.get(topic.shared_notebook_id),
        )
        for topic in listed
    ]
    return TopicPage(page=page, listings=listings)


def topic_search(topics: QuerySet[Topic], *, query: str) -> QuerySet[Topic]:
    """``topics`` that match ``query``: PostgreSQL full-text search over titles and bodies
    (web-search syntax, English stemming, on the indexed ``search_vector``); elsewhere a
    case-insensitive substring of the title or the body."""
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery

        return topics.filter(
            search_vector=SearchQuery(query, config="english", search_type="websearch")
        )
    return topics.filter(Q(title__icontains=query) | Q(body__icontains=query))


def _id_page(topics: QuerySet[Topic], *, sort: str, page_number) -> Page:
    """The page's ids only: read from the sort's index, however deep the page."""
    ids = topics.order_by(*TOPIC_SORTS[sort]).values_list("pk", flat=True)
    return Paginator(ids, TOPICS_PER_PAGE).get_page(page_number)


def _topics_in_order(ids: list[int]) -> list[Topic]:
    """Those topics, in that order, with only what a card shows and their authors."""
    rows = (
        Topic.objects.select_related("author")
        .only(*LISTING_FIELDS, "author__username", "author__name")
        .in_bulk(ids)
    )
    return [rows[pk] for pk in ids if pk in rows]


def _tag_names(*, topic_ids: list[int]) -> dict[int, list[str]]:
    """Tag names by topic id, in one query on the topics' ``through`` table."""
    names: dict[int, list[str]] = {}
    for topic_id, name in Topic.tags.through.objects.filter(topic__in=topic_ids).values_list(
        "topic_id", "tag__name"
    ):
        names.setdefault(topic_id, []).append(name)
    return names


def _newest_ready_versions(*, shared_ids: list[int]) -> dict[int, SharedNotebookVersion]:
    """The newest version rendered ready of each of these shared notebooks (one query, a
    correlated subquery per notebook), by notebook id; only what a card shows of it."""
    ready = SharedNotebookVersion.objects.filter(render_state=Ready)
    newest = ready.filter(shared=OuterRef("shared")).order_by("-number").values("number")[:1]
    versions = ready.filter(shared__in=shared_ids, number=Subquery(newest)).only(
        "pk", "shared_id", "number", "preview_html", "thumbnail_key"
    )
    return {version.shared_id: version for version in versions}


# Lineage and rendering -------------------------------------------------------------------


def clone_origin(*, user: User, path: str) -> SharedNotebookVersion | None:
    """The shared version ``user``'s stored file at ``path`` was cloned from, by the server's
    record of the clone (``Clone``, on the file's row); None if the file was not cloned."""
    clone = (
        Clone.objects.filter(entry__user=user, entry__path=path, user=user)
        .select_related("version")
        .first()
    )
    return clone.version if clone else None


def versions_render_overdue(*, now: dt.datetime, waited: dt.timedelta) -> QuerySet:
    """Ids of versions still pending ``waited`` after they were shared (their render task
    was lost, or the broker was down when they were shared), by the pending index."""
    return SharedNotebookVersion.objects.filter(
        render_state=SharedNotebookVersion.RenderState.PENDING, created__lt=now - waited
    ).values_list("pk", flat=True)


# The sharer's own post -------------------------------------------------------------------


@dataclass(frozen=True)
class SharedPost:
    """What JupyterLab's Share dialog starts from: the post a sharer made from a file."""

    topic: Topic  # with its title and body (the description, Markdown as written)
    tag_names: list[str]  # by name
    version: int  # the newest version's number


def shared_post_for_path(*, author: User, path: str) -> SharedPost | None:
    """The post ``author`` made by sharing their file at ``path`` (a normalized store path),
    as a re-share would change it; None if they never shared it, or its topic is one no
    reader sees (hidden by the moderators). Only the author's own shares are read."""
    topic = (
        topics_visible(viewer=author)
        .filter(shared_notebook__author=author, shared_notebook__source_path=path)
        .select_related("shared_notebook")
        .first()
    )
    if topic is None:
        return None
    newest = shared_notebook_version(shared=topic.shared_notebook, number=None)
    return SharedPost(
        topic=topic,
        tag_names=topic_tag_names(topic=topic),
        version=newest.number if newest is not None else 0,
    )
