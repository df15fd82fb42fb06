from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from community.models import Like, Reply, SharedNotebookVersion, Topic
from community.sanitize import markdown_to_html
from community.services.sharing import shared_notebook_clone, storage

# The page around a rendered notebook: our own, so its style can be trusted.
RENDER_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body{{font:14px/1.5 system-ui,sans-serif;margin:1rem;color:#1d2433}}
pre{{background:#f6f7fa;padding:.5rem;overflow:auto}} img{{max-width:100%}}
.jp-InputPrompt,.jp-OutputPrompt{{display:none}} table{{border-collapse:collapse}}
td,th{{border:1px solid #dde2ea;padding:.2rem .4rem}}
</style></head><body>{body}</body></html>"""

# A rendered notebook is user content: a unique opaque origin (sandbox), no script, nothing
# loaded from anywhere, and only the site's own pages may frame it.
RENDER_CSP = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
)


SORTS = {
    "latest": ("-created",),
    "liked": ("-like_total", "-created"),
    "cloned": (F("shared_notebook__clone_count").desc(nulls_last=True), "-created"),
}


@require_GET
def topic_list(request: HttpRequest) -> HttpResponse:
    """The forum: search, sort (latest, most liked, most cloned), 50 a page with previews."""
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "latest"
    query = request.GET.get("q", "").strip()[:200]
    topics = Topic.objects.filter(hidden=False).select_related("author", "shared_notebook")
    author = request.GET.get("author", "").strip()[:32]
    if author:
        topics = topics.filter(author__username=author)
    if query:
        topics = _search(topics, query)
    # No bound parameters in the grouped query: with server-side binding, PostgreSQL cannot
    # match a parameter in ORDER BY to one in GROUP BY.
    topics = topics.annotate(like_total=Count("likes", distinct=True)).order_by(*SORTS[sort])
    page = Paginator(topics, 50).get_page(request.GET.get("page"))
    # The newest ready version of each shared notebook on the page, in one query.
    latest = {
        v.shared_id: v
        for v in SharedNotebookVersion.objects.filter(
            shared__topic__in=page.object_list, render_state="ready"
        ).order_by("shared", "number")
    }
    for topic in page:
        topic.preview = latest.get(topic.shared_notebook_id)
    return render(
        request,
        "community/topic_list.html",
        {
            "page": page,
            "sort": sort,
            "q": query,
            "author": author,
            "sorts": list(SORTS),
        },
    )


def _search(topics, query: str):
    """PostgreSQL full-text search over titles and bodies; a plain substring match elsewhere."""
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        vector = SearchVector("title", weight="A") + SearchVector("body", weight="B")
        return topics.annotate(search=vector).filter(
            search=SearchQuery(query, search_type="websearch")
        )
    return topics.filter(Q(title__icontains=query) | Q(body__icontains=query))


@require_GET
def topic_detail(request: HttpRequest, topic_id: int) -> HttpResponse:
    topic = get_object_or_404(Topic.objects.select_related("author"), pk=topic_id, hidden=False)
    context = {
        "topic": topic,
        "replies": topic.replies.filter(hidden=False).select_related("author"),
        "like_count": topic.likes.count(),
        "liked": request.user.is_authenticated and topic.likes.filter(user=request.user).exists(),
    }
    if topic.shared_notebook_id:
        versions = list(topic.shared_notebook.versions.order_by("number"))
        number = request.GET.get("version")
        version = next((v for v in versions if str(v.number) == number), versions[-1])
        context.update(versions=versions, version=version, shared=topic.shared_notebook)
    return render(request, "community/topic_detail.html", context)


@xframe_options_sameorigin
@require_GET
def rendered_notebook(request: HttpRequest, version_id: int) -> HttpResponse:
    version = get_object_or_404(SharedNotebookVersion, pk=version_id, render_state="ready")
    with storage().open(version.html_key, "rb") as handle:
        body = handle.read().decode("utf-8")
    response = HttpResponse(RENDER_PAGE.format(body=body), content_type="text/html")
    response["Content-Security-Policy"] = RENDER_CSP
    return response


@require_GET
def download(request: HttpRequest, version_id: int) -> HttpResponse:
    version = get_object_or_404(
        SharedNotebookVersion.objects.select_related("shared"), pk=version_id
    )
    with storage().open(version.ipynb_key, "rb") as handle:
        response = HttpResponse(handle.read(), content_type="application/x-ipynb+json")
    name = version.shared.source_path.rsplit("/", 1)[-1]
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_POST
def clone(request: HttpRequest, version_id: int) -> HttpResponse:
    version = get_object_or_404(
        SharedNotebookVersion.objects.select_related("shared"), pk=version_id
    )
    path = shared_notebook_clone(version=version, reader=request.user)
    return redirect(f"/research?{urlencode({'path': path})}")


@login_required
@require_POST
def reply(request: HttpRequest, topic_id: int) -> HttpResponse:
    topic = get_object_or_404(Topic, pk=topic_id, hidden=False)
    body = request.POST.get("body", "").strip()
    if topic.locked:
        return HttpResponse("This topic is locked.", status=403)
    if not body or len(body) > 20_000:
        return HttpResponse("A reply needs 1 to 20,000 characters.", status=400)
    Reply.objects.create(
        topic=topic, author=request.user, body=body, body_html=markdown_to_html(body)
    )
    return redirect("topic", topic_id=topic.pk)


@login_required
@require_POST
def like(request: HttpRequest, topic_id: int) -> HttpResponse:
    """Like, or unlike if liked already."""
    topic = get_object_or_404(Topic, pk=topic_id, hidden=False)
    existing = Like.objects.filter(topic=topic, user=request.user)
    if existing.exists():
        existing.delete()
    else:
        Like.objects.get_or_create(topic=topic, user=request.user)
    return redirect("topic", topic_id=topic.pk)


@login_required
@require_POST
def topic_delete(request: HttpRequest, topic_id: int) -> HttpResponse:
    """The author (or staff) deletes a topic, with its shared notebook's record."""
    topic = get_object_or_404(Topic, pk=topic_id)
    if topic.author_id != request.user.pk and not request.user.is_staff:
        return HttpResponse("Only the author can delete this.", status=403)
    if topic.shared_notebook_id:
        topic.shared_notebook.delete()
    else:
        topic.delete()
    return redirect("community")
