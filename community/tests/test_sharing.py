"""Share, render (sanitized, sandboxed), show, clone."""

import json
import re

import nbformat
import pytest

from community.models import SharedNotebookVersion, Topic
from community.services.rendering import shared_notebook_render
from community.tests.policies import directives
from research.selectors.notebooks import notebook_read
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

PAYLOADS = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<svg onload="alert(1)"><script>alert(2)</script></svg>',
]


def hostile_notebook():
    cells = [nbformat.v4.new_markdown_cell("# Strategy\n" + "\n".join(PAYLOADS))]
    code = nbformat.v4.new_code_cell("plot()")
    code.outputs = [
        nbformat.v4.new_output("display_data", {"text/html": "".join(PAYLOADS)}),
        nbformat.v4.new_output("display_data", {"image/png": "iVBORw0KGgo="}),
    ]
    cells.append(code)
    return nbformat.v4.new_notebook(cells=cells)


def save(user, path, nb):
    notebook_save(user=user, path=path, notebook=nb)


def share(client, **body):
    data = {
        "path": "s.ipynb",
        "title": "Momentum",
        "description": "My **idea** <script>x</script>",
        "showcase_cell": 1,
        **body,
    }
    return client.post(
        "/api/community/shares", data=json.dumps(data), content_type="application/json"
    )


def test_share_creates_a_topic_and_a_rendered_version(
    client, ada, django_capture_on_commit_callbacks
):
    save(ada, "s.ipynb", hostile_notebook())

    with django_capture_on_commit_callbacks(execute=True):
        response = share(client)

    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 1
    topic = Topic.objects.get()
    assert body["url"] == f"/community/topics/{topic.pk}"
    assert "<script" not in topic.body_html and "<strong>idea</strong>" in topic.body_html
    version = SharedNotebookVersion.objects.get()
    assert version.render_state == "ready"  # rendered by the task after commit (inline here)


def test_resharing_adds_a_version(client, ada, django_capture_on_commit_callbacks):
    save(ada, "s.ipynb", hostile_notebook())
    with django_capture_on_commit_callbacks(execute=True):
        share(client)
        again = share(client, title="Momentum, revised")

    assert again.json()["version"] == 2
    assert Topic.objects.get().title == "Momentum, revised"
    page = client.get(again.json()["url"]).content.decode()
    assert "Viewing version 2 of 2" in page


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"showcase_cell": 7}, 400),
        ({"showcase_cell": "no-such-id"}, 400),
        ({"showcase_cell": True}, 400),
        ({"path": "missing.ipynb"}, 404),
        ({"title": ""}, 400),
    ],
)
def test_bad_share_requests_get_a_clear_error(client, ada, body, status):
    save(ada, "s.ipynb", hostile_notebook())

    response = share(client, **body)

    assert response.status_code == status
    assert not SharedNotebookVersion.objects.exists()


def test_an_invalid_notebook_cannot_be_shared(client, ada):
    nb = hostile_notebook()
    del nb.cells[0]["source"]
    notebook_save(user=ada, path="s.ipynb", notebook=nb)

    response = share(client, showcase_cell=0)

    assert response.status_code == 400
    assert "Not a valid notebook" in response.json()["detail"]


def test_rendered_html_carries_no_script_and_is_served_sandboxed(
    client, ada, django_capture_on_commit_callbacks
):
    save(ada, "s.ipynb", hostile_notebook())
    with django_capture_on_commit_callbacks(execute=True):
        share(client)
    version = SharedNotebookVersion.objects.get()

    rendered = client.get(f"/community/renders/{version.pk}.html")
    html = rendered.content.decode()

    assert rendered.status_code == 200
    policy = directives(rendered.headers["Content-Security-Policy"])
    assert policy["sandbox"] == "allow-scripts"  # an opaque origin, whatever runs
    assert policy["default-src"] == "'none'"
    nonce = re.fullmatch(r"'nonce-([A-Za-z0-9+/=]{24})'", policy["script-src"])[1]
    # The one script is the page's own, by the response's nonce; the notebook brought none.
    body = html.split("<body>", 1)[1]
    assert body.count("<script") == 1 and f'<script nonce="{nonce}">' in body
    notebook = body.split("<script", 1)[0]
    for needle in ["<script", "onerror", "onload", "javascript:"]:
        assert needle not in notebook.lower()
        assert needle not in version.preview_html.lower()
    assert 'src="data:image/png;base64,' in html
    topic_page = client.get(f"/community/topics/{version.shared.topic.pk}").content.decode()
    frame = '<iframe class="notebook-frame" name="notebook-frame" sandbox="allow-scripts" '
    assert frame in topic_page


def test_render_is_idempotent(client, ada, django_capture_on_commit_callbacks):
    save(ada, "s.ipynb", hostile_notebook())
    with django_capture_on_commit_callbacks(execute=True):
        share(client)
    version = SharedNotebookVersion.objects.get()
    before = (version.html_key, version.rendered_at)

    shared_notebook_render(version_id=version.pk)
    version.refresh_from_db()

    assert (version.html_key, version.rendered_at) == before


def test_a_pending_version_shows_rendering(client, ada):
    save(ada, "s.ipynb", hostile_notebook())
    response = share(client)  # no on_commit callbacks run: the render is still queued

    page = client.get(response.json()["url"]).content.decode()

    assert "The notebook is rendering" in page


def test_clone_copies_into_the_readers_cloned_folder(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    save(ada, "s.ipynb", hostile_notebook())
    with django_capture_on_commit_callbacks(execute=True):
        share(client)
    version = SharedNotebookVersion.objects.get()
    bob = make_user(username="bob")
    client.force_login(bob)

    first = client.post(f"/community/shares/{version.shared_id}/clone")
    second = client.post(f"/community/shares/{version.shared_id}/clone", {"version": "1"})

    assert first.status_code == 302
    assert first.headers["Location"] == "/research?path=cloned%2Fs.ipynb"
    assert second.headers["Location"] == "/research?path=cloned%2Fs1.ipynb"
    cloned = notebook_read(user=bob, path="cloned/s.ipynb")
    assert cloned["cells"][1]["source"] == "plot()"
    assert Topic.objects.get().clone_count == 2


def test_a_clone_into_a_full_research_space_is_refused_with_a_413(
    client, ada, make_user, settings, django_capture_on_commit_callbacks
):
    save(ada, "s.ipynb", hostile_notebook())
    with django_capture_on_commit_callbacks(execute=True):
        share(client)
    version = SharedNotebookVersion.objects.get()
    bob = make_user(username="bob")
    client.force_login(bob)
    settings.NOTEBOOK_USER_QUOTA_BYTES = 10  # less than the notebook

    refused = client.post(f"/community/shares/{version.shared_id}/clone")

    assert refused.status_code == 413
    assert "Not enough storage space" in refused.content.decode()
    assert Topic.objects.get().clone_count == 0


def test_clone_needs_login_and_post(client, ada, django_capture_on_commit_callbacks):
    save(ada, "s.ipynb", hostile_notebook())
    with django_capture_on_commit_callbacks(execute=True):
        share(client)
    version = SharedNotebookVersion.objects.get()
    wrong_verb = client.get(f"/community/shares/{version.shared_id}/clone")
    bad_version = client.post(f"/community/shares/{version.shared_id}/clone", {"version": "x"})
    missing_version = client.post(f"/community/shares/{version.shared_id}/clone", {"version": 9})
    client.logout()
    anonymous = client.post(f"/community/shares/{version.shared_id}/clone")

    assert wrong_verb.status_code == 405
    assert bad_version.status_code == 400
    assert missing_version.status_code == 404
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/accounts/login/")


def test_the_forum_lists_topics_with_previews(client, ada, django_capture_on_commit_callbacks):
    save(ada, "s.ipynb", hostile_notebook())
    with django_capture_on_commit_callbacks(execute=True):
        share(client)

    html = client.get("/community").content.decode()

    assert "Momentum" in html
    assert 'class="preview"' in html
    assert "<script" not in html.split('class="preview"')[1]


def test_replies_are_sanitized_and_locked_topics_take_none(
    client, ada, django_capture_on_commit_callbacks
):
    save(ada, "s.ipynb", hostile_notebook())
    with django_capture_on_commit_callbacks(execute=True):
        url = share(client).json()["url"]
    topic = Topic.objects.get()

    client.post(f"{url}/replies", {"body": "Nice! <img src=x onerror=alert(1)> **bold**"})
    page = client.get(url).content.decode()
    Topic.objects.filter(pk=topic.pk).update(locked=True)
    locked = client.post(f"{url}/replies", {"body": "late"})
    empty = client.post(f"{url}/replies", {"body": "  "})

    assert "<strong>bold</strong>" in page and "onerror" not in page
    assert locked.status_code == 403
    assert empty.status_code == 403  # locked first
    assert topic.replies.count() == 1


def test_likes_toggle_and_only_the_author_deletes(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    save(ada, "s.ipynb", hostile_notebook())
    with django_capture_on_commit_callbacks(execute=True):
        url = share(client).json()["url"]
    bob = make_user(username="bob")
    client.force_login(bob)

    client.post(f"{url}/like")
    liked = Topic.objects.get().likes.count(), Topic.objects.get().like_count
    client.post(f"{url}/like")
    unliked = Topic.objects.get().likes.count(), Topic.objects.get().like_count
    refused = client.post(f"{url}/delete")
    client.force_login(ada)
    deleted = client.post(f"{url}/delete")

    assert (liked, unliked) == ((1, 1), (0, 0))
    assert refused.status_code == 403
    assert deleted.status_code == 302
    assert not Topic.objects.exists()
    assert not SharedNotebookVersion.objects.exists()


def test_staff_hide_topics_in_the_admin(client, ada, make_user, django_capture_on_commit_callbacks):
    save(ada, "s.ipynb", hostile_notebook())
    with django_capture_on_commit_callbacks(execute=True):
        url = share(client).json()["url"]
    topic = Topic.objects.get()
    client.force_login(make_user(is_staff=True, is_superuser=True))

    client.post("/admin/community/topic/", {"action": "hide", "_selected_action": [topic.pk]})

    assert client.get(url).status_code == 404
    assert "Momentum" not in client.get("/community").content.decode()


def _topic(author, title, body="", clones=0, likers=()):
    from community.models import SharedNotebook
    from community.services.forum import like_toggle

    shared = SharedNotebook.objects.create(author=author, source_path=f"{title}.ipynb")
    topic = Topic.objects.create(
        author=author, title=title, body=body, shared_notebook=shared, clone_count=clones
    )
    for liker in likers:
        like_toggle(topic=topic, user=liker)
    return topic


def test_forum_sorts_searches_and_lists_one_authors_shares(client, ada, make_user):
    bob, cy = make_user(username="bob"), make_user(username="cy")
    _topic(ada, "Momentum in rates", "trend following", clones=1, likers=[bob])
    _topic(bob, "Mean reversion", "pairs trading", clones=5)
    _topic(ada, "Volatility", "options", likers=[bob, cy])

    def titles(path="/community", **params):
        html = client.get(path, params).content.decode()
        found = [t for t in ["Momentum in rates", "Mean reversion", "Volatility"] if t in html]
        return sorted(found, key=html.index)

    assert titles() == ["Volatility", "Mean reversion", "Momentum in rates"]
    assert titles(sort="liked") == ["Volatility", "Momentum in rates", "Mean reversion"]
    assert titles(sort="cloned") == ["Mean reversion", "Momentum in rates", "Volatility"]
    assert titles(q="pairs") == ["Mean reversion"]
    assert titles("/community/users/ada") == ["Volatility", "Momentum in rates"]
    assert client.get("/community", {"author": "Ada"}).headers["Location"] == (
        "/community/users/ada"
    )
    assert client.get("/community/users/nobody").status_code == 404
    assert client.get("/community", {"sort": "bogus", "page": "x"}).status_code == 200
