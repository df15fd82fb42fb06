import hashlib
import json
import re
from functools import cache, wraps
from urllib.parse import quote, urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache as django_cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from community.models import Reply, SharedNotebook, SharedNotebookVersion, Topic
from community.services import forum
from community.services.sharing import shared_notebook_clone
from community.storage import StorageUnavailable, StoredFileMissing, stored_bytes
from quantsite.accounts.models import User

# The page around a rendered notebook: our own, so its style can be trusted. Code is coloured
# by the same stylesheet as the forum's previews (Pygments classes under the renderer's prefix).
RENDER_PAGE = (
    """<!doctype html><html><head><meta charset="utf-8"><style>
body{font:14px/1.5 system-ui,sans-serif;margin:1rem;color:#1d2433}
pre{background:#f6f7fa;padding:.5rem;overflow:auto} img{max-width:100%}
.prompt,.jp-InputPrompt,.jp-OutputPrompt{display:none} table{border-collapse:collapse}
td,th{border:1px solid #dde2ea;padding:.2rem .4rem}
"""
    + (settings.BASE_DIR / "static" / "css" / "highlight.css").read_text()
    + "</style></head><body>{body}</body></html>"
)

# A rendered notebook is user content: a unique opaque origin (sandbox), no script, nothing
# loaded from anywhere, and only the site's own pages may frame it.
RENDER_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'"
)
# Forum pages show sanitized user HTML in the site's origin; they need no script at all, so
# none may run, whatever got past the sanitizer. Images come only from the site (or inline
# data), as the sanitizer keeps them: no reader's browser calls anyone else.
FORUM_CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
USER_CONTENT_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
IMMUTABLE = "public, max-age=31536000, immutable"

# Each sort has its index (community.models.Topic), which ends with the id: a page's ids come
# from the index alone, however deep the page.
SORTS = {
    "latest": ("-created", "-id"),
    "liked": ("-like_count", "-created", "-id"),
    "cloned": ("-clone_count", "-created", "-id"),
}


# What a username in a forum address may be: the characters accounts allow (Django's, a
# superset of sign-up's), so that any stored user has a page and nothing else is looked up.
USERNAME = re.compile(r"[A-Za-z0-9_.@+-]{1,150}")

_SLOT = "918273645"  # a value every path converter here accepts


@cache
def path_format(name: str) -> str:
    """The path of URL ``name`` with ``{}`` where its one argument goes, from the URLconf.
    A forum page links each of its 50 topics several times; ``reverse`` costs ~50 µs a call."""
    return reverse(name, args=[_SLOT]).replace(_SLOT, "{}")


def storage_page(view):
    """Pages that read the file store: a failed or hung store is the site's 503 page with
    ``Retry-After`` (never a 500, never a held worker); a file gone from it is a 404."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except StoredFileMissing as error:
            raise Http404(error.message) from None
        except StorageUnavailable as error:
            response = render(
                request, "community/unavailable.html", {"message": error.message}, status=503
            )
            response["Retry-After"] = str(error.retry_after)
            # May show inside the forum's frame for a rendered notebook; runs no script.
            response["Content-Security-Policy"] = (
                "default-src 'self'; script-src 'none'; frame-ancestors 'self'"
            )
            return response

    return wrapped


def forum_page(view):
    """Sets the forum's Content-Security-Policy on a page view."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = FORUM_CSP
        return response

    return wrapped


class TopicForm(forms.Form):
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        label="Text (Markdown)",
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 10}),
    )
    tags = forms.CharField(
        max_length=200,
        required=False,
        help_text="Up to 5, separated by commas: letters, digits and dashes.",
    )

    def clean_tags(self) -> list[str]:
        try:
            return forum.tag_names_clean(self.cleaned_data["tags"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Your reply (Markdown)",
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


# What a topic's card in a list shows.
LIST_FIELDS = ("title", "created", "shared_notebook_id", "like_count", "clone_count")
CARDS_CACHE_SECONDS = 600


def _topics_page(request: HttpRequest, topics):
    """Search, tag, sort and paginate ``topics``: the page, its cards' HTML (with previews)
    and the parameters the page's links keep."""
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "latest"
    query = request.GET.get("q", "").strip()[:200]
    tag = request.GET.get("tag", "").strip().lower()[:32]
    if tag:
        topics = topics.filter(tags__name=tag)
    if query:
        topics = _search(topics, query)
    # The page's ids first (from the sort's index), then those 50 rows with their authors.
    ids = topics.order_by(*SORTS[sort]).values_list("pk", flat=True)
    page = Paginator(ids, 50).get_page(request.GET.get("page"))
    rows = (
        Topic.objects.select_related("author")
        .only(*LIST_FIELDS, "author__username", "author__name")
        .in_bulk(list(page.object_list))
    )
    topic_list = [rows[pk] for pk in page.object_list if pk in rows]
    tags: dict[int, list[str]] = {}
    for topic_id, name in Topic.tags.through.objects.filter(
        topic__in=[t.pk for t in topic_list]
    ).values_list("topic_id", "tag__name"):
        tags.setdefault(topic_id, []).append(name)
    # The newest ready version of each shared notebook on the page, in one query.
    ready = SharedNotebookVersion.objects.filter(
        render_state=SharedNotebookVersion.RenderState.READY
    )
    newest = ready.filter(shared=OuterRef("shared")).order_by("-number").values("number")[:1]
    latest = {
        v.shared_id: v
        for v in ready.filter(
            shared__in=[t.shared_notebook_id for t in topic_list if t.shared_notebook_id],
            number=Subquery(newest),
        ).only("pk", "shared_id", "number", "preview_html", "thumbnail_key")
    }
    topic_path, user_path = path_format("topic"), path_format("community-user")
    thumbnail_path, tag_path = path_format("version-thumbnail"), reverse("community") + "?tag="
    cards = []
    for topic in topic_list:
        preview = latest.get(topic.shared_notebook_id)
        cards.append(
            {
                "url": topic_path.format(topic.pk),
                "title": topic.title,
                "author": topic.author.display_name,
                "author_url": user_path.format(quote(topic.author.username)),
                "created": timezone.localdate(topic.created).isoformat(),
                "shared": topic.shared_notebook_id is not None,
                "clone_count": topic.clone_count,
                "like_count": topic.like_count,
                "tags": [(name, tag_path + name) for name in sorted(tags.get(topic.pk, []))],
                "thumbnail_url": (
                    thumbnail_path.format(preview.pk) if preview and preview.thumbnail_key else ""
                ),
                # Sanitized when rendered (community.sanitize).
                "preview_html": preview.preview_html if preview else None,
            }
        )
    params = {"sort": sort, "q": query, "tag": tag}
    return page, _cards_html(cards), params


def _cards_html(cards: list[dict]) -> str:
    """The cards of a list page as HTML, cached in this process under a hash of everything
    they show (a card that changes in any way is a new key; old ones age out)."""
    key = "community:cards:" + hashlib.sha256(json.dumps(cards).encode()).hexdigest()
    html = django_cache.get(key)
    if html is None:
        html = render_to_string("community/_topic_cards.html", {"cards": cards})
        django_cache.set(key, html, timeout=CARDS_CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 (our own template's output, from the cache)


def _search(topics, query: str):
    """PostgreSQL full-text search over titles and bodies (the indexed ``search_vector``); a
    plain substring match elsewhere."""
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery

        return topics.filter(
            search_vector=SearchQuery(query, config="english", search_type="websearch")
        )
    return topics.filter(Q(title__icontains=query) | Q(body__icontains=query))


@forum_page
@require_GET
def topic_list(request: HttpRequest) -> HttpResponse:
    """The forum: search, tags, sort (latest, most liked, most cloned), 50 a page."""
    topics = Topic.objects.filter(hidden=False)
    author = request.GET.get("author", "").strip()
    if author:  # the old form of a profile address
        if not USERNAME.fullmatch(author):
            raise Http404("No such person.")
        return redirect("community-user", username=author.lower())
    page, cards, params = _topics_page(request, topics)
    return render(
        request,
        "community/topic_list.html",
        {"page": page, "cards": cards, "sorts": list(SORTS), **params},
    )


@forum_page
@require_GET
def user_profile(request: HttpRequest, username: str) -> HttpResponse:
    """One person's page: what they shared and started, with the same search and sorts."""
    person = get_object_or_404(User, username=username.lower(), is_active=True)
    topics = Topic.objects.filter(hidden=False).filter(author=person)
    page, cards, params = _topics_page(request, topics)
    shared = Topic.objects.filter(author=person, hidden=False, shared_notebook__isnull=False)
    totals = shared.aggregate(count=Count("pk"), clones=Sum("clone_count"))
    return render(
        request,
        "community/topic_list.html",
        {
            "page": page,
            "cards": cards,
            "sorts": list(SORTS),
            "person": person,
            "shared_count": totals["count"],
            "clone_total": totals["clones"] or 0,
            **params,
        },
    )


@forum_page
@login_required
@require_http_methods(["GET", "POST"])
def topic_new(request: HttpRequest) -> HttpResponse:
    """A topic without a notebook (notebooks are shared from JupyterLab)."""
    form = TopicForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        topic = forum.topic_create(author=request.user, **form.cleaned_data)
        return redirect("topic", topic_id=topic.pk)
    return render(request, "community/topic_form.html", {"form": form, "heading": "New topic"})


@forum_page
@require_GET
def topic_detail(request: HttpRequest, topic_id: int) -> HttpResponse:
    topic = get_object_or_404(
        Topic.objects.select_related("author", "shared_notebook"), pk=topic_id, hidden=False
    )
    replies = list(topic.replies.filter(hidden=False).select_related("author"))
    for reply in replies:
        reply.editable = forum.may_edit(request.user, author_id=reply.author_id, topic=topic)
    context = {
        "topic": topic,
        "tags": topic.tags.all(),
        "replies": replies,
        "editable": forum.may_edit(request.user, author_id=topic.author_id, topic=topic),
        "liked": request.user.is_authenticated and topic.likes.filter(user=request.user).exists(),
    }
    if topic.shared_notebook_id:
        shared = topic.shared_notebook
        versions = list(shared.versions.defer("preview_html").order_by("number"))
        number = request.GET.get("version")
        version = next((v for v in versions if str(v.number) == number), versions[-1])
        origin = (
            SharedNotebookVersion.objects.select_related("shared__topic", "shared__author")
            .filter(pk=shared.cloned_from_id, shared__topic__hidden=False)
            .first()
        )
        derived = Topic.objects.filter(
            hidden=False, shared_notebook__cloned_from__shared=shared
        ).select_related("author")[:20]
        context.update(
            versions=versions, version=version, shared=shared, origin=origin, derived=derived
        )
    return render(request, "community/topic_detail.html", context)


@forum_page
@login_required
@require_http_methods(["GET", "POST"])
def topic_edit(request: HttpRequest, topic_id: int) -> HttpResponse:
    topic = get_object_or_404(Topic, pk=topic_id, hidden=False)
    if not forum.may_edit(request.user, author_id=topic.author_id, topic=topic):
        return HttpResponse("Only the author can edit this topic.", status=403)
    initial = {
        "title": topic.title,
        "body": topic.body,
        "tags": ", ".join(topic.tags.values_list("name", flat=True)),
    }
    form = TopicForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        forum.topic_edit(topic=topic, editor=request.user, **form.cleaned_data)
        return redirect("topic", topic_id=topic.pk)
    return render(
        request,
        "community/topic_form.html",
        {"form": form, "heading": "Edit topic", "topic": topic},
    )


@login_required
@require_POST
def topic_delete(request: HttpRequest, topic_id: int) -> HttpResponse:
    topic = get_object_or_404(Topic, pk=topic_id, hidden=False)
    forum.topic_delete(topic=topic, editor=request.user)
    return redirect("community")


@login_required
@require_POST
def reply(request: HttpRequest, topic_id: int) -> HttpResponse:
    topic = get_object_or_404(Topic, pk=topic_id, hidden=False)
    if topic.locked:
        return HttpResponse("This topic is locked.", status=403)
    form = ReplyForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["body"].strip():
        return HttpResponse("A reply needs 1 to 20,000 characters.", status=400)
    forum.reply_create(topic=topic, author=request.user, body=form.cleaned_data["body"])
    return redirect("topic", topic_id=topic.pk)


@forum_page
@login_required
@require_http_methods(["GET", "POST"])
def reply_edit(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = get_object_or_404(
        Reply.objects.select_related("topic"), pk=reply_id, hidden=False, topic__hidden=False
    )
    if not forum.may_edit(request.user, author_id=reply.author_id, topic=reply.topic):
        return HttpResponse("Only the author can edit this reply.", status=403)
    form = ReplyForm(request.POST or None, initial={"body": reply.body})
    if request.method == "POST" and form.is_valid():
        forum.reply_edit(reply=reply, editor=request.user, body=form.cleaned_data["body"])
        return redirect("topic", topic_id=reply.topic_id)
    return render(
        request,
        "community/topic_form.html",
        {"form": form, "heading": "Edit reply", "topic": reply.topic, "reply": reply},
    )


@login_required
@require_POST
def reply_delete(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = get_object_or_404(
        Reply.objects.select_related("topic"), pk=reply_id, hidden=False, topic__hidden=False
    )
    forum.reply_delete(reply=reply, editor=request.user)
    return redirect("topic", topic_id=reply.topic_id)


def _visible_version(request: HttpRequest, version_id: int, **filters) -> SharedNotebookVersion:
    """A version whose topic readers may see (staff see hidden ones too), else 404."""
    version = get_object_or_404(
        SharedNotebookVersion.objects.select_related("shared__topic"), pk=version_id, **filters
    )
    topic = getattr(version.shared, "topic", None)
    if topic is None or (topic.hidden and not request.user.is_staff):
        raise Http404("No such shared notebook.")
    return version


@xframe_options_sameorigin
@storage_page
@require_GET
def rendered_notebook(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _visible_version(request, version_id, render_state="ready")
    body = stored_bytes(version.html_key).decode("utf-8")
    response = HttpResponse(RENDER_PAGE.replace("{body}", body, 1), content_type="text/html")
    response["Content-Security-Policy"] = RENDER_CSP
    return response


@storage_page
@require_GET
def thumbnail(request: HttpRequest, version_id: int) -> HttpResponse:
    """The server-drawn PNG thumbnail of a version (immutable, as the version is)."""
    version = _visible_version(request, version_id, render_state="ready")
    if not version.thumbnail_key:
        raise Http404("This version has no thumbnail.")
    response = HttpResponse(stored_bytes(version.thumbnail_key), content_type="image/png")
    response["Content-Security-Policy"] = USER_CONTENT_CSP
    response["Cache-Control"] = IMMUTABLE
    return response


@storage_page
@require_GET
def download(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _visible_version(request, version_id)
    data = stored_bytes(version.ipynb_key)
    response = HttpResponse(data, content_type="application/x-ipynb+json")
    name = version.shared.source_path.rsplit("/", 1)[-1]
    response["Content-Disposition"] = content_disposition_header(True, name)
    response["Content-Security-Policy"] = USER_CONTENT_CSP
    return response


@storage_page
@login_required
@require_POST
def clone(request: HttpRequest, shared_id: int) -> HttpResponse:
    """``POST /community/shares/<id>/clone`` (``version``: a number; the latest if absent)."""
    shared = get_object_or_404(SharedNotebook, pk=shared_id, topic__hidden=False)
    versions = shared.versions.order_by("-number")
    number = request.POST.get("version", "")
    if number:
        if not (number.isascii() and number.isdigit() and len(number) <= 9):
            return HttpResponse("version must be a version number.", status=400)
        versions = versions.filter(number=int(number))
    version = versions.first()
    if version is None:
        raise Http404("No such version.")
    path = shared_notebook_clone(version=version, reader=request.user)
    return redirect(f"/research?{urlencode({'path': path})}")


@login_required
@require_POST
def like(request: HttpRequest, topic_id: int) -> HttpResponse:
    """Like, or unlike if liked already."""
    topic = get_object_or_404(Topic, pk=topic_id, hidden=False)
    forum.like_toggle(topic=topic, user=request.user)
    return redirect("topic", topic_id=topic.pk)
