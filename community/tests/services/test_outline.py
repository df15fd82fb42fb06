"""A notebook's outline: the headings of its Markdown cells, read from its render."""

import nbformat
import pytest

from community.models import SharedNotebook, SharedNotebookVersion, Topic
from community.services.outline import OUTLINE_MAX_ENTRIES, OUTLINE_MAX_TEXT, notebook_outline
from community.services.rendering import _html, shared_notebook_render
from community.storage import store_immutable


def outline_of(*cells):
    return notebook_outline(_html(nbformat.v4.new_notebook(cells=list(cells))))


def test_headings_of_markdown_cells_with_their_levels_text_and_the_renders_ids():
    markdown = nbformat.v4.new_markdown_cell(
        "# Intro *fast* `code`\n\ntext\n\n## Data & <b>Stuff</b>\n\nSetext\n------\n\n"
        "```\n# a comment, not a heading\n```\n\n<h4>raw, without an id</h4>\n\n### Ünï \u03b1"
    )

    outline = outline_of(markdown)

    assert outline == [
        {"level": 1, "text": "Intro fast code", "anchor": "user-content-Intro-fast-code"},
        {"level": 2, "text": "Data & Stuff", "anchor": "user-content-Data-&-Stuff"},
        {"level": 2, "text": "Setext", "anchor": "user-content-Setext"},
        {"level": 3, "text": "Ünï \u03b1", "anchor": "user-content-%C3%9Cn%C3%AF-%CE%B1"},
    ]


def test_each_anchor_is_an_id_the_rendered_html_carries():
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# One\n## Two: (b)?\n# One")]
    )
    html = _html(nb)

    anchors = [entry["anchor"] for entry in notebook_outline(html)]

    assert anchors == ["user-content-One", "user-content-Two:-(b)?", "user-content-One"]
    assert all(f'id="{anchor}"' in html for anchor in anchors)


def test_headings_in_outputs_and_markup_in_headings_are_left_out():
    code = nbformat.v4.new_code_cell("show()")
    code.outputs = [
        nbformat.v4.new_output(
            "display_data", {"text/html": "<h2 id='x'>An output</h2>", "text/markdown": "# Md"}
        )
    ]
    hostile = nbformat.v4.new_markdown_cell(
        "## <script>alert(1)</script>Safe &lt;b&gt; <img src='x'/>"
    )

    outline = outline_of(code, hostile)

    assert [entry["text"] for entry in outline] == ["Safe <b>"]  # plain text: a page escapes it
    assert outline[0]["level"] == 2


def test_the_outline_is_bounded_in_entries_and_text():
    long_heading = "# " + "word " * 100
    cells = [nbformat.v4.new_markdown_cell(long_heading)] + [
        nbformat.v4.new_markdown_cell(f"## Part {n}") for n in range(OUTLINE_MAX_ENTRIES + 50)
    ]

    outline = outline_of(*cells)

    assert len(outline) == OUTLINE_MAX_ENTRIES
    assert len(outline[0]["text"]) == OUTLINE_MAX_TEXT
    assert outline[0]["text"].endswith("…")
    assert outline[-1]["text"] == f"Part {OUTLINE_MAX_ENTRIES - 2}"


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_the_outline_is_stored_at_render_and_shown_on_the_topic_page(client, make_user):
    ada = make_user(username="ada")
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Momentum\n\n## Signals <i>&</i> risk"),
            nbformat.v4.new_code_cell("1"),
        ]
    )
    notebook = SharedNotebook.objects.create(author=ada, source_path="s.ipynb")
    topic = Topic.objects.create(author=ada, title="Momentum", shared_notebook=notebook)
    version = SharedNotebookVersion.objects.create(
        shared=notebook,
        number=1,
        ipynb_key=store_immutable(nbformat.writes(nb).encode(), ".ipynb"),
        showcase_cell=1,
    )
    pending_page = client.get(f"/community/topics/{topic.pk}").content.decode()

    shared_notebook_render(version_id=version.pk)
    version.refresh_from_db()
    page = client.get(f"/community/topics/{topic.pk}").content.decode()

    assert "Contents" not in pending_page
    assert version.outline == [
        {"level": 1, "text": "Momentum", "anchor": "user-content-Momentum"},
        {"level": 2, "text": "Signals & risk", "anchor": "user-content-Signals-&-risk"},
    ]
    assert "<summary>Contents</summary>" in page
    assert (
        f'href="/community/renders/{version.pk}.html#user-content-Signals-&amp;-risk" '
        'target="notebook-frame"' in page
    )
    assert ">Signals &amp; risk</a>" in page


@pytest.mark.django_db
def test_a_version_rendered_before_outlines_shows_no_contents(client, make_user):
    ada = make_user(username="ada")
    notebook = SharedNotebook.objects.create(author=ada, source_path="s.ipynb")
    topic = Topic.objects.create(author=ada, title="Old", shared_notebook=notebook)
    SharedNotebookVersion.objects.create(
        shared=notebook,
        number=1,
        ipynb_key="shared/x.ipynb",
        showcase_cell=0,
        render_state="ready",
        html_key="shared/x.html",
    )

    page = client.get(f"/community/topics/{topic.pk}").content.decode()

    assert "Viewing version 1 of 1" in page
    assert "Contents" not in page
