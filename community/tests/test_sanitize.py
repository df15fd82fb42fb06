"""What user HTML keeps: renderer classes only, prefixed ids, images from the site, and never
MathML/SVG annotation or animation elements, nor the site's navigation attributes (htmx)."""

import re

import nbformat
import pytest

from community import sanitize
from community.sanitize import clean_html, markdown_to_html
from community.tests.policies import directives
from community.tests.test_forum import share
from research.services.notebooks import notebook_save


def test_ids_get_the_user_content_prefix_and_in_page_links_follow():
    html = clean_html('<h2 id="research-frame">Top</h2><a href="#research-frame">up</a>')

    assert html == (
        '<h2 id="user-content-research-frame">Top</h2>'
        '<a href="#user-content-research-frame" rel="noopener noreferrer nofollow">up</a>'
    )


def test_an_id_is_prefixed_once():
    assert clean_html('<p id="user-content-x">a</p>') == '<p id="user-content-x">a</p>'


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("button", None),
        ("button primary", None),
        ("research-frame card", None),
        ("hl-k", "hl-k"),
        ("highlight hl-ipython3", "highlight hl-ipython3"),
        ("jp-Cell button", "jp-Cell"),
        ("output_area prompt", "output_area prompt"),
        ("ansi-red-fg", "ansi-red-fg"),
        ("language-python", "language-python"),
        ("k n o", None),  # Pygments' bare token classes: the renderer writes them as hl-…
        ("celltag_mine", None),  # a notebook's own cell tags
    ],
)
def test_classes_are_kept_only_from_the_renderers_allow_list(given, kept):
    html = clean_html(f'<span class="{given}">x</span>')

    assert html == (f'<span class="{kept}">x</span>' if kept else "<span>x</span>")


def test_no_class_the_site_styles_survives():
    css = sanitize.__file__.rsplit("/community/", 1)[0] + "/static/css/site.css"
    with open(css) as handle:
        site_classes = set(re.findall(r"\.([A-Za-z_][A-Za-z0-9_-]*)", handle.read()))

    html = clean_html(f'<a class="{" ".join(sorted(site_classes))}" href="/x">x</a>')

    assert len(site_classes) > 20
    assert "class=" not in html


@pytest.mark.parametrize(
    ("src", "kept"),
    [
        ("data:image/png;base64,iVBORw0KGgo=", True),
        ("data:image/jpeg;base64,/9j/4AAQ", True),
        ("data:image/gif;base64,R0lGODlh", True),
        ("data:image/webp;base64,UklGR", True),
        ("/community/versions/1/thumbnail.png", True),
        ("https://tracker.example/pixel.gif", False),
        ("http://tracker.example/pixel.gif", False),
        ("//tracker.example/pixel.gif", False),
        ("/\\tracker.example/pixel.gif", False),
        ("pixel.gif", False),
        ("data:image/svg+xml;base64,PHN2Zz4=", False),
        ("data:text/html;base64,PGI+", False),
        ("attachment:image.png", False),
    ],
)
def test_images_load_only_from_the_site(src, kept):
    html = clean_html(f'<img src="{src}" alt="a">')

    assert html == (f'<img src="{src}" alt="a">' if kept else '<img alt="a">')


def test_markdown_images_from_elsewhere_lose_their_source():
    html = markdown_to_html("![pixel](https://tracker.example/p.gif) ![local](/static/x.png)")

    assert html == '<p><img alt="pixel"> <img alt="local" src="/static/x.png"></p>'


MATH_AND_SVG_ATTACKS = [
    '<math><semantics><mi>x</mi><annotation-xml encoding="text/html">'
    "<img src=x onerror=alert(1)>smuggled</annotation-xml></semantics></math>",
    "<math><semantics><mi>y</mi><annotation>smuggled</annotation></semantics></math>",
    '<svg><a href="/"><animate attributeName="href" to="javascript:alert(1)">smuggled</animate>'
    '<set attributeName="href" to="javascript:alert(2)">smuggled</set>link</a></svg>',
    '<svg><animateTransform attributeName="transform">smuggled</animateTransform>'
    '<animateMotion path="M0">smuggled</animateMotion><discard>smuggled</discard></svg>',
]
FUTURE_TAGS = {"math", "semantics", "mi", "mrow", "svg", "a", "g"}


@pytest.mark.parametrize("payload", MATH_AND_SVG_ATTACKS)
def test_annotation_and_animation_elements_never_survive_even_with_math_allowed(
    monkeypatch, payload
):
    """Later MathML/SVG work adds its elements to TAGS; these stay out whatever it adds."""
    today = clean_html(payload)
    monkeypatch.setattr(sanitize, "TAGS", sanitize.TAGS | FUTURE_TAGS)
    with_math = clean_html(payload)

    for html in (today, with_math):
        lowered = html.lower()
        assert "annotation" not in lowered and "smuggled" not in lowered
        assert not re.search(r"<(animate|set|discard)", lowered)
        assert "onerror" not in lowered and "javascript" not in lowered


@pytest.mark.parametrize("element", ["annotation-xml", "annotation", "animate", "set", "discard"])
def test_allowing_an_annotation_or_animation_element_is_refused(monkeypatch, element):
    monkeypatch.setattr(sanitize, "TAGS", sanitize.TAGS | FUTURE_TAGS | {element})

    with pytest.raises(ValueError, match=element):
        clean_html("<math></math>")


NAVIGATION_PAYLOADS = [
    '<a href="/community" hx-post="/accounts/logout/" hx-trigger="load">x</a>',
    '<div data-hx-get="/research" data-hx-trigger="revealed" data-hx-target="body">x</div>',
    '<a href="/x" hx-on:click="alert(1)" hx-on--after-request="alert(2)">x</a>',
    '<form hx-boost="true" hx-vals=\'{"a": 1}\' hx-headers="{}">x</form>',
    '<a href="/x" data-turbo-method="delete" data-turbo-frame="_top" data-turbo="true">x</a>',
    '<span HX-GET="/x" Data-Hx-Swap="outerHTML" DATA-TURBO-ACTION="replace">x</span>',
]


@pytest.mark.parametrize("payload", NAVIGATION_PAYLOADS)
def test_the_navigation_librarys_attributes_never_survive(payload):
    for html in (clean_html(payload), markdown_to_html(payload)):
        lowered = html.lower()
        assert "hx-" not in lowered and "turbo" not in lowered, html
        assert "x" in html  # the text itself stays


def test_allowing_a_navigation_attribute_is_refused(monkeypatch):
    """Even if ATTRIBUTES ever named one, the filter drops it at every element."""
    monkeypatch.setitem(sanitize.ATTRIBUTES, "a", {"href", "hx-get", "data-turbo-method"})

    html = clean_html('<a href="/x" hx-get="/y" data-turbo-method="post">x</a>')

    assert html == '<a href="/x" rel="noopener noreferrer nofollow">x</a>'


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_a_shared_notebook_keeps_its_highlighting_and_loses_the_sites_look(
    client, ada, django_capture_on_commit_callbacks
):
    hostile = (
        '<a class="button" id="research-frame" href="/research">Open</a>'
        '<img src="https://tracker.example/p.gif" alt="beacon">'
    )
    code = nbformat.v4.new_code_cell("import os")
    code.outputs = [nbformat.v4.new_output("display_data", {"text/html": hostile})]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(hostile), code])
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    notebook_save(user=ada, path="s.ipynb", notebook=nb)
    with django_capture_on_commit_callbacks(execute=True):
        url = share(client, showcase_cell=1, description=hostile).json()["url"]

    version_pk = client.get(url).context["version"].pk
    pages = {
        "list": client.get("/community").content.decode(),
        "topic": client.get(url).content.decode(),
        "render": client.get(f"/community/renders/{version_pk}.html").content.decode(),
    }

    for name, page in pages.items():
        assert 'id="research-frame"' not in page, name
        assert 'id="user-content-research-frame"' in page, name
        assert '<a class="button"' not in page, name
        assert "tracker.example" not in page, name
    assert '<span class="hl-kn">import</span>' in pages["render"]
    assert ".highlight .hl-kn" in pages["render"]
    assert '<span class="hl-kn">import</span>' in pages["list"]
    assert "css/highlight.css" in pages["list"]
    # htmx never processes user markup: it sits inside hx-disable on the site's pages.
    assert '<div class="post" hx-disable>' in pages["topic"]
    assert '<div class="preview-cell" hx-disable>' in pages["list"]


@pytest.mark.django_db
def test_the_forum_policy_loads_images_from_the_site_only(client):
    policy = client.get("/community").headers["Content-Security-Policy"]

    assert directives(policy)["img-src"] == "'self' data:"
    assert "https:" not in policy


@pytest.mark.django_db(transaction=True)
def test_stored_posts_and_previews_are_sanitized_again_by_the_migration(make_user):
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    call_command("migrate", "community", "0005", verbosity=0)
    # The models as they were at 0005: later migrations add columns the table lacks here.
    state = MigrationExecutor(connection).loader.project_state(("community", "0005_clone_lineage"))
    Topic, Reply, SharedNotebook, SharedNotebookVersion = (
        state.apps.get_model("community", name)
        for name in ("Topic", "Reply", "SharedNotebook", "SharedNotebookVersion")
    )
    ada = make_user(username="ada")
    old_html = '<a class="button" id="research-frame" href="/x">Open</a>'
    topic = Topic.objects.create(
        author_id=ada.pk,
        title="Old",
        body='<a class="button" id="research-frame">Open</a>',
        body_html=old_html,
    )
    Reply.objects.create(
        topic=topic,
        author_id=ada.pk,
        body="![t](https://t.example/p.gif)",
        body_html='<img src="https://t.example/p.gif">',
    )
    shared = SharedNotebook.objects.create(author_id=ada.pk, source_path="s.ipynb")
    SharedNotebookVersion.objects.create(
        shared=shared, number=1, ipynb_key="k", showcase_cell=0, preview_html=old_html
    )

    call_command("migrate", "community", verbosity=0)

    assert Topic.objects.get().body_html == (
        '<p><a rel="noopener noreferrer nofollow" id="user-content-research-frame">Open</a></p>'
    )
    assert Reply.objects.get().body_html == '<p><img alt="t"></p>'
    assert SharedNotebookVersion.objects.get().preview_html == (
        '<a rel="noopener noreferrer nofollow" id="user-content-research-frame" href="/x">Open</a>'
    )
