"""The forum's pages, and the files of shared notebooks: a form reads the request, a selector
(``community.selectors``, which decides who may see what) or a service does the work, a
template renders the page. Forum pages have the site's one policy (scripts by nonce only: the
site's own, never user markup; images from the site only); the documents of user content
(rendered notebooks, files) have policies of their own here, through django-csp's decorators."""

import hashlib
import json
import re
from functools import cache, wraps
from urllib.parse import quote, urlencode

from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from csp.decorators import csp
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from community import selectors
from community.forms import CloneForm, ReplyForm, TopicForm, TopicListForm
from community.models import Reply, SharedNotebookVersion, Topic
from community.services import forum
from community.services.diff import NotebookUnreadable, notebook_versions_compare
from community.services.sharing import shared_notebook_clone
from community.storage import StorageUnavailable, StoredFileMissing, stored_bytes
from quantsite.accounts.models import User
from quantsite.api import error_status
from research.exceptions import NotebookStoreError

# A rendered notebook is user content: a unique opaque origin (sandbox; the frame's sandbox
# attribute says the same), nothing loaded from anywhere, and only the site's own pages may
# frame it. Its one script is the page's own, by this response's nonce: it tells the frame
# around it its height (templates/community/rendered_notebook.html); user markup has no nonce,
# and from an opaque origin a script reaches neither the site's cookies nor its pages.
RENDER_CSP = {
    "sandbox": ["allow-scripts"],
    "default-src": [NONE],
    "script-src": [NONCE],
    "img-src": [SELF, "data:"],
    "style-src": [UNSAFE_INLINE],
    "frame-ancestors": [SELF],
}
# A thumbnail or a downloaded .ipynb, opened on its own: inert, and framed by nobody.
USER_CONTENT_CSP = {"sandbox": [], "default-src": [NONE], "frame-ancestors": [NONE]}
# The store's 503 page may show inside the forum's frame for a rendered notebook; no script.
UNAVAILABLE_CSP = {"default-src": [SELF], "script-src": [NONE], "frame-ancestors": [SELF]}
IMMUTABLE = "public, max-age=31536000, immutable"
CARDS_CACHE_SECONDS = 600

# What a username in a forum address may be: the characters accounts allow (Django's, a
# superset of sign-up's), so that any stored user has a page and nothing else is looked up.
USERNAME = re.compile(r"[A-Za-z0-9_.@+-]{1,150}")

_SLOT = "918273645"  # a value every path converter here accepts


@cache
def path_format(name: str) -> str:
    """The path of URL ``name`` with ``{}`` where its one argument goes, from the URLconf.
    A forum page links each of its 50 topics several times; ``reverse`` costs ~50 µs a call."""
    return reverse(name, args=[_SLOT]).replace(_SLOT, "{}")


@cache
def highlight_css() -> str:
    """The stylesheet that colours code (Pygments classes under the renderer's prefix), as
    the forum's previews use it: a rendered notebook's page has it inline."""
    return (settings.BASE_DIR / "static" / "css" / "highlight.css").read_text()


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
            return _store_unavailable(request, error)

    return wrapped


@csp(UNAVAILABLE_CSP)
def _store_unavailable(request: HttpRequest, error: StorageUnavailable) -> HttpResponse:
    response = render(request, "community/unavailable.html", {"message": error.message}, status=503)
    response["Retry-After"] = str(error.retry_after)
    return response


# Lists of topics -------------------------------------------------------------------------


@require_GET
def topic_list(request: HttpRequest) -> HttpResponse:
    """The forum: search, tags, sort (latest, most liked, most cloned), 50 a page."""
    author = request.GET.get("author", "").strip()
    if author:  # the old form of a profile address
        if not USERNAME.fullmatch(author):
            raise Http404("No such person.")
        return redirect("community-user", username=author.lower())
    return render(request, "community/topic_list.html", _topic_list_context(request))


@require_GET
def user_profile(request: HttpRequest, username: str) -> HttpResponse:
    """One person's page: what they shared and started, with the same search and sorts."""
    person = selectors.person_get(username=username)
    if person is None:
        raise Http404("No such person.")
    totals = selectors.person_sharing_totals(viewer=request.user, person=person)
    context = {
        **_topic_list_context(request, author=person),
        "person": person,
        "shared_count": totals.shared,
        "clone_total": totals.clones,
    }
    return render(request, "community/topic_list.html", context)


def _topic_list_context(request: HttpRequest, *, author: User | None = None) -> dict:
    """A list page's context: its page of topics (``selectors.topic_page``), their cards
    and the key the template caches the cards' HTML under, and what its links keep."""
    query = TopicListForm(request.GET).query()
    topic_page = selectors.topic_page(viewer=request.user, author=author, **query)
    cards = topic_cards(topic_page.listings)
    return {
        "page": topic_page.page,
        "cards": cards,
        "cards_key": hashlib.sha256(json.dumps(cards).encode()).hexdigest(),
        "cards_cache_seconds": CARDS_CACHE_SECONDS,
        "sorts": list(selectors.TOPIC_SORTS),
        "sort": query["sort"],
        "q": query["query"],
        "tag": query["tag"],
    }


def topic_cards(listings: list[selectors.TopicListing]) -> list[dict]:
    """What each topic's card in a list shows, as plain values (strings, numbers, lists), so
    that a hash of them names the cards' HTML in the cache: a card that changes in any way
    is a new key, and old ones age out."""
    topic_path, user_path = path_format("topic"), path_format("community-user")
    thumbnail_path, tag_path = path_format("version-thumbnail"), reverse("community") + "?tag="
    cards = []
    for listing in listings:
        topic, preview = listing.topic, listing.preview
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
                "tags": [(name, tag_path + name) for name in listing.tag_names],
                "thumbnail_url": (
                    thumbnail_path.format(preview.pk) if preview and preview.thumbnail_key else ""
                ),
                # Sanitized when rendered (community.sanitize).
                "preview_html": preview.preview_html if preview else None,
            }
        )
    return cards


# A topic and its replies -----------------------------------------------------------------


def _topic_or_404(request: HttpRequest, topic_id: int) -> Topic:
    topic = selectors.topic_visible(viewer=request.user, topic_id=topic_id)
    if topic is None:
        raise Http404("No such topic.")
    return topic


def _reply_or_404(request: HttpRequest, reply_id: int) -> Reply:
    reply = selectors.reply_visible(viewer=request.user, reply_id=reply_id)
    if reply is None:
        raise Http404("No such reply.")
    return reply


@login_required
@require_http_methods(["GET", "POST"])
def topic_new(request: HttpRequest) -> HttpResponse:
    """A topic without a notebook (notebooks are shared from JupyterLab)."""
    form = TopicForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        topic = forum.topic_create(author=request.user, **form.cleaned_data)
        return redirect("topic", topic_id=topic.pk)
    return render(request, "community/topic_form.html", {"form": form, "heading": "New topic"})


@require_GET
def topic_detail(request: HttpRequest, topic_id: int) -> HttpResponse:
    topic = _topic_or_404(request, topic_id)
    replies = list(selectors.replies_visible(viewer=request.user, topic=topic))
    for reply in replies:
        reply.editable = forum.may_edit(request.user, author_id=reply.author_id, topic=topic)
    context = {
        "topic": topic,
        "tags": topic.tags.all(),
        "replies": replies,
        "editable": forum.may_edit(request.user, author_id=topic.author_id, topic=topic),
        "liked": selectors.topic_liked(topic=topic, user=request.user),
    }
    notebook = selectors.topic_notebook(
        viewer=request.user, topic=topic, number=request.GET.get("version")
    )
    if notebook is not None:
        context.update(
            versions=notebook.versions,
            version=notebook.version,
            shared=topic.shared_notebook,
            origin=notebook.origin,
            derived=notebook.derived,
            outline=notebook.outline,
            changes=notebook.changes,
        )
    return render(request, "community/topic_detail.html", context)


class ChangesForm(forms.Form):
    """``from`` and ``to`` of the changes page: version numbers (as the database can hold
    them), ``to`` the newest and ``from`` the one before ``to`` when not given."""

    old = forms.IntegerField(min_value=1, max_value=2_147_483_647, required=False)
    new = forms.IntegerField(min_value=1, max_value=2_147_483_647, required=False)

    def __init__(self, query, **kwargs):
        super().__init__({"old": query.get("from"), "new": query.get("to")}, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("old") and data["old"] == data.get("new"):
            raise forms.ValidationError("Choose two different versions to compare.")
        return data


@storage_page
@require_GET
def topic_changes(request: HttpRequest, topic_id: int) -> HttpResponse:
    """``/community/topics/<id>/changes?from=<n>&to=<m>``: what changed, cell by cell,
    between two versions of the topic's notebook."""
    topic = _topic_or_404(request, topic_id)
    if topic.shared_notebook is None:
        raise Http404("This topic has no notebook.")
    form = ChangesForm(request.GET)
    if not form.is_valid():
        errors = [error for messages in form.errors.values() for error in messages]
        text = " ".join(errors).replace("Ensure this value", "A version number must be")
        return HttpResponse(f"Bad versions: {text}", status=400, content_type="text/plain")
    new = selectors.shared_notebook_version(
        shared=topic.shared_notebook, number=form.cleaned_data["new"]
    )
    if new is None:
        raise Http404("No such version.")
    old_number = form.cleaned_data["old"] or new.number - 1
    if old_number == new.number:  # "from" only, naming the newest
        return HttpResponse(
            "Bad versions: choose two different versions to compare.",
            status=400,
            content_type="text/plain",
        )
    old = selectors.shared_notebook_version(shared=topic.shared_notebook, number=old_number)
    if old is None:
        raise Http404("No such version to compare with.")
    try:
        changes = notebook_versions_compare(old=old, new=new)
    except NotebookUnreadable as error:
        return HttpResponse(error.message, status=error.status_code, content_type="text/plain")
    versions = list(topic.shared_notebook.versions.values_list("number", flat=True))
    context = {"topic": topic, "changes": changes, "versions": versions}
    return render(request, "community/topic_changes.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def topic_edit(request: HttpRequest, topic_id: int) -> HttpResponse:
    topic = _topic_or_404(request, topic_id)
    if not forum.may_edit(request.user, author_id=topic.author_id, topic=topic):
        return HttpResponse("Only the author can edit this topic.", status=403)
    initial = {
        "title": topic.title,
        "body": topic.body,
        "tags": ", ".join(selectors.topic_tag_names(topic=topic)),
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
    forum.topic_delete(topic=_topic_or_404(request, topic_id), editor=request.user)
    return redirect("community")


@login_required
@require_POST
def like(request: HttpRequest, topic_id: int) -> HttpResponse:
    """Like, or unlike if liked already."""
    topic = _topic_or_404(request, topic_id)
    forum.like_toggle(topic=topic, user=request.user)
    return redirect("topic", topic_id=topic.pk)


@login_required
@require_POST
def reply(request: HttpRequest, topic_id: int) -> HttpResponse:
    topic = _topic_or_404(request, topic_id)
    if topic.locked:
        return HttpResponse("This topic is locked.", status=403)
    form = ReplyForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["body"].strip():
        return HttpResponse("A reply needs 1 to 20,000 characters.", status=400)
    forum.reply_create(topic=topic, author=request.user, body=form.cleaned_data["body"])
    return redirect("topic", topic_id=topic.pk)


@login_required
@require_http_methods(["GET", "POST"])
def reply_edit(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = _reply_or_404(request, reply_id)
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
    reply = _reply_or_404(request, reply_id)
    forum.reply_delete(reply=reply, editor=request.user)
    return redirect("topic", topic_id=reply.topic_id)


# Shared notebooks' files, and cloning ----------------------------------------------------


def _version_or_404(
    request: HttpRequest, version_id: int, *, rendered: bool = False
) -> SharedNotebookVersion:
    version = selectors.version_visible(
        viewer=request.user, version_id=version_id, rendered=rendered
    )
    if version is None:
        raise Http404("No such shared notebook.")
    return version


@xframe_options_sameorigin
@storage_page
@csp(RENDER_CSP)
@require_GET
def rendered_notebook(request: HttpRequest, version_id: int) -> HttpResponse:
    """The rendered notebook in our own page (its style can be trusted), for the topic
    page's sandboxed frame."""
    version = _version_or_404(request, version_id, rendered=True)
    context = {
        "highlight_css": highlight_css(),
        "body": stored_bytes(version.html_key).decode("utf-8"),
        "site_origin": f"{request.scheme}://{request.get_host()}",
    }
    return render(request, "community/rendered_notebook.html", context)


@storage_page
@csp(USER_CONTENT_CSP)
@require_GET
def thumbnail(request: HttpRequest, version_id: int) -> HttpResponse:
    """The server-drawn PNG thumbnail of a version (immutable, as the version is)."""
    version = _version_or_404(request, version_id, rendered=True)
    if not version.thumbnail_key:
        raise Http404("This version has no thumbnail.")
    response = HttpResponse(stored_bytes(version.thumbnail_key), content_type="image/png")
    response["Cache-Control"] = IMMUTABLE
    return response


@storage_page
@csp(USER_CONTENT_CSP)
@require_GET
def download(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(request, version_id)
    response = HttpResponse(
        stored_bytes(version.ipynb_key), content_type="application/x-ipynb+json"
    )
    name = version.shared.source_path.rsplit("/", 1)[-1]
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@storage_page
@login_required
@require_POST
def clone(request: HttpRequest, shared_id: int) -> HttpResponse:
    """``POST /community/shares/<id>/clone`` (``version``: a number; the latest if absent)."""
    shared = selectors.shared_notebook_visible(viewer=request.user, shared_id=shared_id)
    if shared is None:
        raise Http404("No such shared notebook.")
    form = CloneForm(request.POST)
    if not form.is_valid():
        return HttpResponse(form.errors["version"][0], status=400)
    version = selectors.shared_notebook_version(shared=shared, number=form.cleaned_data["version"])
    if version is None:
        raise Http404("No such version.")
    try:
        path = shared_notebook_clone(version=version, reader=request.user)
    except NotebookStoreError as error:  # a full research space (413), a file too large
        return HttpResponse(error.message, status=error_status(error), content_type="text/plain")
    return redirect(f"/research?{urlencode({'path': path})}")
