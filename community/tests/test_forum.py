"""The forum around shared notebooks: tags, editing, profiles, lineage, thumbnails, limits."""

import base64
import io
import json
import re

import nbformat
import pytest
from PIL import Image

from community.models import Clone, Reply, SharedNotebook, SharedNotebookVersion, Topic
from community.services.rendering import thumbnail_png
from community.tests.images import png_b64
from research.selectors.notebooks import notebook_read
from research.services.notebooks import entry_delete, entry_rename, notebook_save

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def chart_notebook(image=None, text="result") -> nbformat.NotebookNode:
    intro = nbformat.v4.new_markdown_cell("# Momentum\nWhy it works.")
    code = nbformat.v4.new_code_cell("plot(returns)")
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=text),
        nbformat.v4.new_output("display_data", {"image/png": image or png_b64()}),
    ]
    return nbformat.v4.new_notebook(cells=[intro, code])


def share(client, path="s.ipynb", **body):
    data = {"path": path, "title": "Momentum", "description": "Idea", **body}
    return client.post(
        "/api/community/shares", data=json.dumps(data), content_type="application/json"
    )


def shared(client, user, nb=None, path="s.ipynb", capture=None, **body):
    notebook_save(user=user, path=path, notebook=nb or chart_notebook())
    with capture(execute=True):
        response = share(client, path=path, **body)
    assert response.status_code == 201, response.content
    return response.json()


# Thumbnails -------------------------------------------------------------------------------


def test_the_showcase_image_becomes_a_server_drawn_thumbnail(
    client, ada, django_capture_on_commit_callbacks
):
    shared(client, ada, capture=django_capture_on_commit_callbacks, showcase_cell=1)
    version = SharedNotebookVersion.objects.get()

    response = client.get(f"/community/versions/{version.pk}/thumbnail.png")
    image = Image.open(io.BytesIO(response.content))
    listing = client.get("/community").content.decode()

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert "immutable" in response.headers["Cache-Control"]
    assert image.format == "PNG" and image.size == (427, 320)  # 800 by 600 into 480 by 320
    assert f"/community/versions/{version.pk}/thumbnail.png" in listing
    # The list carries the thumbnail, not the full image inline.
    assert "data:image/png" not in version.preview_html
    assert "returns" in version.preview_html and "result" in version.preview_html


def test_a_jpeg_output_is_redrawn_as_png(client, ada, django_capture_on_commit_callbacks):
    nb = chart_notebook()
    nb.cells[1].outputs[1] = nbformat.v4.new_output(
        "display_data", {"image/jpeg": png_b64(fmt="JPEG")}
    )
    shared(client, ada, nb=nb, capture=django_capture_on_commit_callbacks, showcase_cell=1)
    version = SharedNotebookVersion.objects.get()

    body = client.get(f"/community/versions/{version.pk}/thumbnail.png").content

    assert body.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    "encoded",
    [
        "not base64 at all!",
        base64.b64encode(b"<svg onload=alert(1)></svg>").decode(),
        base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40).decode(),  # a truncated PNG
    ],
)
def test_an_image_output_that_is_not_an_image_gets_no_thumbnail(
    client, ada, django_capture_on_commit_callbacks, encoded
):
    shared(
        client,
        ada,
        nb=chart_notebook(image=encoded),
        capture=django_capture_on_commit_callbacks,
        showcase_cell=1,
    )
    version = SharedNotebookVersion.objects.get()

    assert version.render_state == "ready"
    assert version.thumbnail_key == ""
    assert client.get(f"/community/versions/{version.pk}/thumbnail.png").status_code == 404


def test_a_decompression_bomb_is_not_decoded():
    # 20,000 by 20,000 pixels of one colour compress to a few hundred kilobytes.
    image = Image.new("1", (20_000, 20_000))
    out = io.BytesIO()
    image.save(out, format="PNG")

    assert len(out.getvalue()) < 1_000_000
    assert thumbnail_png(base64.b64encode(out.getvalue()).decode()) is None


def test_the_thumbnail_falls_back_to_the_first_image_in_the_notebook(
    client, ada, django_capture_on_commit_callbacks
):
    shared(client, ada, capture=django_capture_on_commit_callbacks, showcase_cell=0)

    assert SharedNotebookVersion.objects.get().thumbnail_key.endswith(".png")


def test_long_showcase_output_is_clipped_in_the_preview(
    client, ada, django_capture_on_commit_callbacks
):
    shared(
        client,
        ada,
        nb=chart_notebook(text="x" * 100_000),
        capture=django_capture_on_commit_callbacks,
        showcase_cell=1,
    )
    version = SharedNotebookVersion.objects.get()

    assert len(version.preview_html) < 5_000
    assert "x" * 1_500 in version.preview_html


# Showcase, limits, failures ---------------------------------------------------------------


def test_the_showcase_cell_defaults_to_the_one_marked_in_jupyterlab(
    client, ada, django_capture_on_commit_callbacks
):
    nb = chart_notebook()
    nb.cells[1].metadata["quanthub"] = {"showcase": True}
    shared(client, ada, nb=nb, capture=django_capture_on_commit_callbacks)

    assert SharedNotebookVersion.objects.get().showcase_cell == 1


def test_an_oversized_notebook_cannot_be_shared(client, ada, settings):
    notebook_save(
        user=ada,
        path="big.ipynb",
        notebook=chart_notebook(text="y" * 300_000),
    )
    settings.NOTEBOOK_MAX_FILE_BYTES = 200_000  # the limit was lowered after it was saved

    response = share(client, path="big.ipynb")

    assert response.status_code == 413
    assert "size limit" in response.json()["detail"]
    assert not SharedNotebookVersion.objects.exists() and not Topic.objects.exists()


def test_an_empty_notebook_cannot_be_shared(client, ada):
    notebook_save(user=ada, path="e.ipynb", notebook=nbformat.v4.new_notebook())

    response = share(client, path="e.ipynb")

    assert response.status_code == 400
    assert "empty" in response.json()["detail"]


def test_a_version_that_cannot_be_rendered_is_marked_failed(client, ada):
    from community.services.rendering import shared_notebook_render
    from community.storage import store_immutable

    # Stored bytes that are not a notebook (say, damaged in storage).
    notebook = SharedNotebook.objects.create(author=ada, source_path="s.ipynb")
    topic = Topic.objects.create(author=ada, title="Broken", shared_notebook=notebook)
    version = SharedNotebookVersion.objects.create(
        shared=notebook,
        number=1,
        ipynb_key=store_immutable(b"{not json", ".ipynb"),
        showcase_cell=0,
    )

    shared_notebook_render(version_id=version.pk)
    version.refresh_from_db()
    page = client.get(f"/community/topics/{topic.pk}").content.decode()

    assert version.render_state == "failed"
    assert version.render_error
    assert "could not be rendered" in page
    assert client.get(f"/community/versions/{version.pk}/download").status_code == 200
    assert shared_notebook_render(version_id=version.pk).render_state == "failed"  # not retried


# Tags --------------------------------------------------------------------------------------


def test_tags_come_with_the_share_and_filter_the_forum(
    client, ada, django_capture_on_commit_callbacks
):
    shared(
        client,
        ada,
        capture=django_capture_on_commit_callbacks,
        tags=["Momentum", "daily", "momentum"],
    )
    shared(client, ada, path="t.ipynb", capture=django_capture_on_commit_callbacks, title="Rates")

    topic = Topic.objects.get(title="Momentum")
    tagged = client.get("/community", {"tag": "momentum"}).content.decode()

    assert sorted(topic.tags.values_list("name", flat=True)) == ["daily", "momentum"]
    assert "Momentum" in tagged and "Rates" not in tagged
    assert (
        'href="/community?tag=daily"'
        in client.get(f"/community/topics/{topic.pk}").content.decode()
    )


def test_resharing_without_tags_keeps_them(client, ada, django_capture_on_commit_callbacks):
    shared(client, ada, capture=django_capture_on_commit_callbacks, tags=["daily"])
    shared(client, ada, capture=django_capture_on_commit_callbacks)

    assert list(Topic.objects.get().tags.values_list("name", flat=True)) == ["daily"]


@pytest.mark.parametrize(
    "tags",
    [["a b"], ["-x"], ["x" * 33], ["a", "b", "c", "d", "e", "f"], "daily", [["x"]], ["<script>"]],
)
def test_bad_tags_get_a_clear_error(client, ada, tags):
    notebook_save(user=ada, path="s.ipynb", notebook=chart_notebook())

    response = share(client, tags=tags)

    body = response.json()
    assert response.status_code == 400
    assert "tags" in body.get("errors", body)  # the per-field messages
    assert not Topic.objects.exists()


# Posting and editing -----------------------------------------------------------------------


def test_a_plain_topic_with_tags(client, ada):
    response = client.post(
        "/community/new", {"title": "Data sources?", "body": "Which *feeds*?", "tags": "data, q"}
    )
    topic = Topic.objects.get()

    assert (
        response.status_code == 302
        and response.headers["Location"] == f"/community/topics/{topic.pk}"
    )
    assert topic.body_html == "<p>Which <em>feeds</em>?</p>"
    assert sorted(topic.tags.values_list("name", flat=True)) == ["data", "q"]
    invalid = client.post("/community/new", {"title": "", "tags": "not a tag"})
    assert invalid.status_code == 200
    assert "This field is required" in invalid.content.decode()
    assert "is not a tag" in invalid.content.decode()
    assert Topic.objects.count() == 1


def test_authors_edit_their_topic_and_others_cannot(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    url = shared(client, ada, capture=django_capture_on_commit_callbacks, tags=["daily"])["url"]
    topic = Topic.objects.get()

    form = client.get(f"{url}/edit").content.decode()
    edited = client.post(
        f"{url}/edit",
        {
            "title": "Momentum, explained",
            "body": "New <script>x</script> **text**",
            "tags": "rates",
        },
    )
    client.force_login(make_user(username="bob"))
    refused_form = client.get(f"{url}/edit")
    refused = client.post(f"{url}/edit", {"title": "Mine now", "body": "", "tags": ""})
    topic.refresh_from_db()

    assert 'value="daily"' in form
    assert edited.status_code == 302
    assert topic.title == "Momentum, explained"
    assert "<strong>text</strong>" in topic.body_html and "<script" not in topic.body_html
    assert topic.edited is not None
    assert list(topic.tags.values_list("name", flat=True)) == ["rates"]
    assert (refused_form.status_code, refused.status_code) == (403, 403)
    # Search follows the edit (PostgreSQL: the trigger rewrote the search vector).
    assert "Momentum, explained" in client.get("/community", {"q": "text"}).content.decode()
    assert "Momentum, explained" not in client.get("/community", {"q": "idea"}).content.decode()


def test_a_locked_topic_is_frozen_for_its_author_but_not_for_staff(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    url = shared(client, ada, capture=django_capture_on_commit_callbacks)["url"]
    client.post(f"{url}/replies", {"body": "First"})
    reply = Reply.objects.get()
    Topic.objects.update(locked=True)

    author_edit = client.post(f"{url}/edit", {"title": "X", "body": "", "tags": ""})
    author_reply_edit = client.post(f"/community/replies/{reply.pk}/edit", {"body": "changed"})
    author_delete = client.post(f"{url}/delete")
    client.force_login(make_user(username="mod", is_staff=True))
    staff_edit = client.post(f"{url}/edit", {"title": "Moderated", "body": "", "tags": ""})

    assert (author_edit.status_code, author_reply_edit.status_code) == (403, 403)
    assert author_delete.status_code == 403
    assert staff_edit.status_code == 302
    assert Topic.objects.get().title == "Moderated"
    assert Reply.objects.get().body == "First"


@pytest.mark.parametrize(
    ("moderation", "message"),
    [
        ({"locked": True}, "The moderators locked this topic: it cannot be changed."),
        ({"hidden": True}, "The moderators hid this topic: it cannot be changed."),
    ],
)
def test_resharing_to_a_locked_or_hidden_topic_is_refused_whole(
    client, ada, django_capture_on_commit_callbacks, moderation, message
):
    shared(client, ada, capture=django_capture_on_commit_callbacks, tags=["daily"])
    Topic.objects.update(**moderation)
    notebook_save(
        user=ada,
        path="s.ipynb",
        notebook=chart_notebook(text="changed"),
    )

    response = share(client, title="Rewritten", description="New text", tags=["spam"])
    topic = Topic.objects.get()

    assert response.status_code == 403
    assert response.json() == {"detail": message}
    assert (topic.title, topic.body) == ("Momentum", "Idea")
    assert list(topic.tags.values_list("name", flat=True)) == ["daily"]
    assert SharedNotebookVersion.objects.count() == 1


def test_staff_reshare_their_own_locked_topic(
    client, make_user, django_capture_on_commit_callbacks
):
    mod = make_user(username="mod", is_staff=True)
    client.force_login(mod)
    shared(client, mod, capture=django_capture_on_commit_callbacks)
    Topic.objects.update(locked=True)

    again = shared(client, mod, capture=django_capture_on_commit_callbacks, title="Updated")

    assert again["version"] == 2
    assert Topic.objects.get().title == "Updated"


def test_authors_edit_and_delete_their_replies(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    url = shared(client, ada, capture=django_capture_on_commit_callbacks)["url"]
    bob = make_user(username="bob")
    client.force_login(bob)
    client.post(f"{url}/replies", {"body": "Nice"})
    reply = Reply.objects.get()

    edited = client.post(f"/community/replies/{reply.pk}/edit", {"body": "Nice, **really**"})
    page = client.get(url).content.decode()
    client.force_login(ada)
    refused = client.post(f"/community/replies/{reply.pk}/delete")
    client.force_login(bob)
    deleted = client.post(f"/community/replies/{reply.pk}/delete")

    assert edited.status_code == 302
    assert "<strong>really</strong>" in page and "edited" in page
    assert refused.status_code == 403
    assert deleted.status_code == 302 and not Reply.objects.exists()


def test_staff_edits_in_the_admin_are_sanitized(client, ada, make_user):
    topic = Topic.objects.create(author=ada, title="T", body="x", body_html="<p>x</p>")
    client.force_login(make_user(username="root", is_staff=True, is_superuser=True))

    response = client.post(
        f"/admin/community/topic/{topic.pk}/change/",
        {
            "title": "T",
            "body": "<img src=x onerror=alert(1)> *ok*",
            "hidden": "",
            "locked": "",
            "replies-TOTAL_FORMS": "0",
            "replies-INITIAL_FORMS": "0",
        },
    )
    topic.refresh_from_db()

    assert response.status_code == 302, response.content.decode()[:2000]
    assert "onerror" not in topic.body_html and "<em>ok</em>" in topic.body_html


# Profiles, lineage, visibility -------------------------------------------------------------


def test_a_profile_lists_what_a_person_shared(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    shared(client, ada, capture=django_capture_on_commit_callbacks)
    client.force_login(make_user(username="bob"))
    client.post("/community/new", {"title": "Bob asks", "body": "", "tags": ""})

    page = client.get("/community/users/ada").content.decode()

    assert "Momentum" in page and "Bob asks" not in page
    assert "1 shared notebook" in page


def test_a_clone_shared_again_names_where_it_came_from(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    original = shared(client, ada, capture=django_capture_on_commit_callbacks)
    bob = make_user(username="bob")
    client.force_login(bob)
    client.post(f"/community/shares/{original['id']}/clone")
    cloned = notebook_read(user=bob, path="cloned/s.ipynb")
    assert cloned["metadata"]["quantsite"]["cloned_from"] == {
        "shared": original["id"],
        "version": 1,
    }

    again = shared(
        client,
        bob,
        nb=cloned,
        path="cloned/s.ipynb",
        capture=django_capture_on_commit_callbacks,
        title="Momentum, tuned",
    )
    bobs_page = client.get(again["url"]).content.decode()
    adas_page = client.get(original["url"]).content.decode()

    assert SharedNotebook.objects.get(pk=again["id"]).cloned_from.shared_id == original["id"]
    assert "Cloned from" in bobs_page and "Momentum</a> (version 1)" in bobs_page
    assert "Momentum, tuned" in adas_page
    assert Topic.objects.get(shared_notebook_id=original["id"]).clone_count == 1


@pytest.mark.parametrize(
    "mark", [{"cloned_from": {"shared": 999, "version": 1}}, {"cloned_from": "x"}, "junk"]
)
def test_a_forged_or_stale_lineage_mark_is_ignored(
    client, ada, django_capture_on_commit_callbacks, mark
):
    nb = chart_notebook()
    nb.metadata["quantsite"] = mark
    body = shared(client, ada, nb=nb, capture=django_capture_on_commit_callbacks)

    assert SharedNotebook.objects.get(pk=body["id"]).cloned_from is None


def test_a_mark_naming_someone_elses_real_version_makes_no_lineage(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    original = shared(client, ada, capture=django_capture_on_commit_callbacks)
    bob = make_user(username="bob")
    client.force_login(bob)
    nb = chart_notebook(text="bob's own work")
    nb.metadata["quantsite"] = {"cloned_from": {"shared": original["id"], "version": 1}}

    forged = shared(
        client, bob, nb=nb, path="mine.ipynb", capture=django_capture_on_commit_callbacks
    )
    page = client.get(forged["url"]).content.decode()

    assert SharedNotebook.objects.get(pk=forged["id"]).cloned_from is None
    assert "Cloned from" not in page


def test_lineage_follows_the_cloned_file_through_a_rename_and_goes_with_it(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    original = shared(client, ada, capture=django_capture_on_commit_callbacks)
    bob = make_user(username="bob")
    client.force_login(bob)
    client.post(f"/community/shares/{original['id']}/clone")
    clone = Clone.objects.get()
    entry_rename(user=bob, old_path="cloned/s.ipynb", new_path="tuned.ipynb")
    cloned = notebook_read(user=bob, path="tuned.ipynb")
    del cloned["metadata"]["quantsite"]  # lineage does not rest on the metadata
    notebook_save(user=bob, path="tuned.ipynb", notebook=cloned)

    renamed = shared(
        client,
        bob,
        path="tuned.ipynb",
        nb=cloned,
        capture=django_capture_on_commit_callbacks,
    )
    entry_delete(user=bob, path="tuned.ipynb")

    assert (clone.user, clone.version.shared_id) == (bob, original["id"])
    assert SharedNotebook.objects.get(pk=renamed["id"]).cloned_from.shared_id == original["id"]
    assert not Clone.objects.exists()


def test_a_hidden_topics_notebook_is_not_served(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    body = shared(client, ada, capture=django_capture_on_commit_callbacks)
    version = SharedNotebookVersion.objects.get()
    Topic.objects.update(hidden=True)
    urls = [
        f"/community/renders/{version.pk}.html",
        f"/community/versions/{version.pk}/download",
        f"/community/versions/{version.pk}/thumbnail.png",
    ]

    assert [client.get(u).status_code for u in urls] == [404, 404, 404]
    assert client.post(f"/community/shares/{body['id']}/clone").status_code == 404
    client.force_login(make_user(username="mod", is_staff=True))
    assert [client.get(u).status_code for u in urls] == [200, 200, 200]


def test_forum_pages_run_only_the_sites_own_scripts(
    client, ada, django_capture_on_commit_callbacks
):
    url = shared(client, ada, capture=django_capture_on_commit_callbacks)["url"]

    for path in ["/community", url, "/community/users/ada", "/community/new", f"{url}/edit"]:
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        nonce = re.search(r"script-src 'nonce-([^']+)'(;|$)", policy)
        assert nonce and "frame-ancestors 'none'" in policy, path
        # Every script on the page is the site's own file, carrying this response's nonce.
        scripts = re.findall(r"<script[^>]*>", response.content.decode())
        assert scripts == [
            f'<script nonce="{nonce[1]}" src="/static/django_htmx/htmx-2.min.js" defer>',
            f'<script nonce="{nonce[1]}" src="/static/js/site.js" defer>',
        ], path


def test_the_list_previews_the_newest_rendered_version(
    client, ada, django_capture_on_commit_callbacks
):
    shared(
        client,
        ada,
        nb=chart_notebook(text="first run"),
        capture=django_capture_on_commit_callbacks,
        showcase_cell=1,
    )
    shared(
        client,
        ada,
        nb=chart_notebook(text="second run"),
        capture=django_capture_on_commit_callbacks,
        showcase_cell=1,
    )
    newest = client.get("/community").content.decode()
    notebook_save(
        user=ada,
        path="s.ipynb",
        notebook=chart_notebook(text="third run"),
    )
    share(client, showcase_cell=1)  # version 3 is still rendering (no on-commit callbacks run)
    while_rendering = client.get("/community").content.decode()

    assert "second run" in newest and "first run" not in newest
    assert "second run" in while_rendering and "third run" not in while_rendering


def test_a_cached_card_changes_as_soon_as_what_it_shows_does(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    url = shared(client, ada, capture=django_capture_on_commit_callbacks)["url"]
    before = client.get("/community").content.decode()
    client.post(f"{url}/like")
    client.post(f"{url}/edit", {"title": "Momentum, renamed", "body": "", "tags": "new-tag"})
    after = client.get("/community").content.decode()

    assert "0 likes" in before and "Momentum, renamed" not in before
    assert "1 like" in after and "Momentum, renamed" in after and "new-tag" in after


def test_staff_see_lineage_records_in_the_admin_read_only(
    client, ada, make_user, django_capture_on_commit_callbacks
):
    original = shared(client, ada, capture=django_capture_on_commit_callbacks)
    client.force_login(make_user(username="bob"))
    client.post(f"/community/shares/{original['id']}/clone")
    client.force_login(make_user(username="mod", is_staff=True, is_superuser=True))
    clone = Clone.objects.get()

    listing = client.get("/admin/community/clone/")
    add = client.get("/admin/community/clone/add/")

    assert listing.status_code == 200 and "bob" in listing.content.decode()
    assert add.status_code == 403
    assert client.get(f"/admin/community/clone/{clone.pk}/change/").status_code == 200
