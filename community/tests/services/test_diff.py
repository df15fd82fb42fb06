"""What changed between two versions of a shared notebook, cell by cell; and its page."""

import nbformat
import pytest

from community.models import SharedNotebookVersion
from community.services import diff
from community.services.sharing import shared_notebook_share
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def code(source, text=None):
    cell = nbformat.v4.new_code_cell(source)
    if text is not None:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return cell


def share_versions(user, *notebooks, hidden=False):
    """Each notebook shared in turn from one path: versions 1, 2, …; the topic."""
    for nb in notebooks:
        notebook_save(user=user, path="m.ipynb", notebook=nb)
        version = shared_notebook_share(user=user, path="m.ipynb", title="M", description="")
    topic = version.shared.topic
    if hidden:
        topic.hidden = True
        topic.save(update_fields=["hidden"])
    return topic


def changes_of(old_cells, new_cells):
    cells = [diff._cell(c) for c in old_cells], [diff._cell(c) for c in new_cells]
    return diff.notebook_changes(*cells)[0]


def test_cells_added_removed_modified_and_a_run_unchanged():
    old = [
        nbformat.v4.new_markdown_cell("# Momentum"),
        code("a = 1"),
        code("b = 2"),
        code("def signal(x):\n    return x > 0\n", text="True\n"),
        code("print('gone')"),
    ]
    new = [
        nbformat.v4.new_markdown_cell("# Momentum"),
        code("a = 1"),
        code("b = 2"),
        code("def signal(x):\n    return x > 0.5\n", text="False\n"),
        code("plot()"),
    ]

    changes = changes_of(old, new)

    assert [c.kind for c in changes] == ["unchanged", "modified", "removed", "added"]
    assert changes[0].unchanged == ["# Momentum", "a = 1", "b = 2"]
    modified = changes[1]
    assert (modified.old_index, modified.new_index) == (4, 4)
    assert [(line.kind, line.text) for line in modified.source_diff if line.kind != "context"][
        1:
    ] == [("removed", "    return x > 0"), ("added", "    return x > 0.5")]
    assert ("added", "False") in [(line.kind, line.text) for line in modified.outputs_diff]
    assert changes[2].source == ["print('gone')"] and changes[3].source == ["plot()"]


def test_a_cell_moved_down_by_inserted_cells_is_still_paired():
    old = [code("x = load()"), code("y = x * 2")]
    new = [code("x = load()"), code("new_1()"), code("new_2()"), code("y = x * 3")]

    changes = changes_of(old, new)

    assert [c.kind for c in changes] == ["unchanged", "added", "added", "modified"]
    assert (changes[-1].old_index, changes[-1].new_index) == (2, 4)


def test_an_image_change_is_named_not_diffed():
    old, new = code("plot()"), code("plot()")
    old.outputs = [nbformat.v4.new_output("display_data", {"image/png": "AAAA"})]
    new.outputs = [nbformat.v4.new_output("display_data", {"image/png": "BBBB"})]

    (change,) = changes_of([old], [new])

    assert change.kind == "modified" and change.images_changed
    assert change.source_diff == []


def test_the_diff_of_huge_cells_is_bounded_and_says_so():
    old = [code("\n".join(f"line {n}" for n in range(diff.MAX_LINES * 2)))]
    new = [code("\n".join(f"line {n} changed" for n in range(diff.MAX_LINES * 2)))]

    changes, cut = diff.notebook_changes([diff._cell(c) for c in old], [diff._cell(c) for c in new])

    shown = sum(len(c.source_diff) + len(c.source) for c in changes)
    assert cut or any(c.truncated for c in changes)
    assert shown <= diff.MAX_DIFF_LINES + 2 * diff.MAX_LINES


def test_the_changes_page_shows_what_changed(client, ada):
    topic = share_versions(
        ada,
        nbformat.v4.new_notebook(cells=[code("alpha = 0.1"), code("print(1)")]),
        nbformat.v4.new_notebook(cells=[code("alpha = 0.2"), code("print(1)"), code("new()")]),
    )

    page = client.get(f"/community/topics/{topic.pk}/changes?from=1&to=2")
    newest = client.get(f"/community/topics/{topic.pk}/changes")
    topic_page = client.get(f"/community/topics/{topic.pk}").content.decode()

    html = page.content.decode()
    assert page.status_code == 200
    assert "1 cell added, 0 removed, 1 modified, 1 unchanged." in html
    assert '<span class="diff-removed">-alpha = 0.1</span>' in html
    assert '<span class="diff-added">+alpha = 0.2</span>' in html
    assert newest.status_code == 200 and "Version 1 → 2" in newest.content.decode()
    assert f'href="/community/topics/{topic.pk}/changes?from=1&amp;to=2"' in topic_page


def test_cell_text_is_escaped_on_the_changes_page(client, ada):
    topic = share_versions(
        ada,
        nbformat.v4.new_notebook(cells=[code("x = 1")]),
        nbformat.v4.new_notebook(cells=[code("x = '<script>alert(1)</script>'")]),
    )

    html = client.get(f"/community/topics/{topic.pk}/changes?from=1&to=2").content.decode()

    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?from=1&to=1", 400),
        ("?from=x&to=2", 400),
        ("?from=0&to=2", 400),
        ("?from=1&to=99999999999", 400),
        ("?from=1&to=9", 404),
        ("?from=9&to=2", 404),
        ("?from=2", 400),  # to the newest, which is version 2
    ],
)
def test_bad_versions_get_a_clear_answer(client, ada, query, status):
    topic = share_versions(
        ada,
        nbformat.v4.new_notebook(cells=[code("a")]),
        nbformat.v4.new_notebook(cells=[code("b")]),
    )

    response = client.get(f"/community/topics/{topic.pk}/changes{query}")

    assert response.status_code == status


def test_a_one_version_notebook_has_no_changes_to_show(client, ada):
    topic = share_versions(ada, nbformat.v4.new_notebook(cells=[code("a")]))

    assert client.get(f"/community/topics/{topic.pk}/changes").status_code == 404
    assert "/changes" not in client.get(f"/community/topics/{topic.pk}").content.decode()


def test_a_hidden_topics_changes_are_not_shown_to_others(client, ada, make_user):
    topic = share_versions(
        ada,
        nbformat.v4.new_notebook(cells=[code("a")]),
        nbformat.v4.new_notebook(cells=[code("b")]),
        hidden=True,
    )
    client.force_login(make_user(username="bob"))

    assert client.get(f"/community/topics/{topic.pk}/changes?from=1&to=2").status_code == 404


def test_an_unreadable_stored_version_is_a_422(client, ada):
    topic = share_versions(
        ada,
        nbformat.v4.new_notebook(cells=[code("a")]),
        nbformat.v4.new_notebook(cells=[code("b")]),
    )
    from community.storage import storage

    old = SharedNotebookVersion.objects.get(shared__topic=topic, number=1)
    with storage().open(old.ipynb_key, "wb") as handle:
        handle.write(b"{not json")

    response = client.get(f"/community/topics/{topic.pk}/changes?from=1&to=2")

    assert response.status_code == 422
    assert "could not be read" in response.content.decode()
