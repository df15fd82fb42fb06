"""What a rendered notebook is made of: compact prompts, no trailing empty cells, formulas as
MathML, SVG outputs as images of a redrawn document, and a stylesheet for both schemes."""

import base64
import re

import nbformat
import pytest

from community import sanitize
from community.highlight import highlight_stylesheet
from community.sanitize import clean_html, svg_clean, svg_data_uri_clean
from community.services.rendering import MATH_MAX_CHARS, _html, math_html
from community.tests.notebooks import SVG_CHART, reading_notebook
from quantsite.settings import BASE_DIR


def test_the_highlight_stylesheet_is_the_one_the_module_writes():
    """static/css/highlight.css is community.highlight's output (regenerate it if this fails:
    ``python -m community.highlight > static/css/highlight.css``)."""
    stylesheet = (BASE_DIR / "static" / "css" / "highlight.css").read_text()

    assert stylesheet == highlight_stylesheet()
    assert ".highlight .hl-k {" in stylesheet
    assert "@media (prefers-color-scheme: dark)" in stylesheet
    assert ".theme-auto .highlight .hl-k {" in stylesheet


def test_prompts_are_compact_and_trailing_empty_cells_are_left_out():
    html = _html(reading_notebook(long_lines=3))

    prompts = re.findall(r'<div class="prompt[^"]*">([^<]*)</div>', html)
    assert prompts.count("[3]") == 2  # the input and its result
    assert "[4]" in prompts and "[5]" in prompts
    assert "In&nbsp;" not in html and "Out[" not in html
    assert html.count('class="cell ') == 5  # of 7: the empty code and Markdown cells at the end


def test_an_empty_cell_between_others_is_kept():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("1"),
            nbformat.v4.new_code_cell(""),
            nbformat.v4.new_code_cell("2"),
        ]
    )

    assert _html(nb).count('class="cell ') == 3


@pytest.mark.parametrize(
    ("latex", "elements"),
    [
        (r"\frac{a}{b}", ["mfrac"]),
        (r"\sum_{t=1}^{n} r_t", ["munderover", "msub"]),
        (r"\alpha + \Delta", ["mi"]),
        (r"\begin{pmatrix} a & b \\ c & d \end{pmatrix}", ["mtable", "mtr", "mtd"]),
        (r"\sqrt[3]{x}", ["mroot"]),
    ],
)
def test_formulas_become_mathml_the_sanitizer_keeps(latex, elements):
    html = clean_html(math_html(latex, display=True))

    assert html.startswith('<math display="block"')
    for element in elements:
        assert f"<{element}" in html
    assert "\\" not in html


def test_inline_display_and_align_math_in_markdown():
    cell = nbformat.v4.new_markdown_cell(
        "Inline $x^2$ and display\n\n$$\\frac{1}{2}$$\n\n"
        "\\begin{align}\na &= b \\\\\nc &= d\n\\end{align}\n"
    )
    html = _html(nbformat.v4.new_notebook(cells=[cell]))

    assert html.count('<math display="inline"') == 1
    assert html.count('<math display="block"') == 2
    assert "$" not in html and "\\begin" not in html


def test_a_formula_that_cannot_be_converted_is_shown_as_typed():
    html = math_html(r"\frac{1}{", display=False)

    assert html == r"<code>\frac{1}{</code>"


def test_a_formula_past_the_limit_is_shown_as_its_source():
    source = "x+" * (MATH_MAX_CHARS // 2 + 1)

    assert math_html(source, display=True) == f"<code>{source}</code>"


MATH_ATTACKS = [
    '<math><maction actiontype="toggle"><mi>a</mi><mi>b</mi></maction></math>',
    '<math><mglyph src="https://t.example/p.gif"></mglyph></math>',
    '<math><mi href="javascript:alert(1)">x</mi></math>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<math><mtext><table><mglyph><style><img src=x onerror="alert(1)">',
    '<math><semantics><mi>x</mi><annotation-xml encoding="text/html">'
    "<img src=x onerror=alert(1)></annotation-xml></semantics></math>",
    '<math><mi style="background:url(https://t.example/p.gif)">x</mi></math>',
    "<math><svg><foreignObject><img src=x onerror=alert(1)></foreignObject></svg></math>",
]


@pytest.mark.parametrize("payload", MATH_ATTACKS)
def test_mathml_keeps_its_layout_and_nothing_else(payload):
    html = clean_html(payload).lower()

    for needle in ["maction", "mglyph", "href", "javascript", "onerror", "annotation", "style"]:
        assert needle not in html
    for needle in ["semantics", "svg", "foreignobject", "https://"]:
        assert needle not in html


def test_mathml_layout_attributes_are_kept():
    html = clean_html(
        '<math display="block"><mfrac linethickness="0"><mi mathvariant="bold">a</mi>'
        '<mn>2</mn></mfrac><mo stretchy="false">(</mo></math>'
    )

    assert 'linethickness="0"' in html and 'mathvariant="bold"' in html
    assert 'stretchy="false"' in html and 'display="block"' in html


def svg_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def drawn(uri: str) -> str:
    return base64.b64decode(uri.split(",", 1)[1]).decode()


def test_an_svg_output_is_an_image_of_the_redrawn_document():
    html = _html(reading_notebook(long_lines=1))
    uri = re.search(r'<img alt="Output of the cell" src="(data:image/svg\+xml;base64,[^"]+)"', html)

    svg = drawn(uri[1])
    assert svg.startswith('<svg width="120" height="80" viewBox="0 0 120 80"')
    assert "<path " in svg and "<text " in svg and "stroke: #1f77b4" in svg
    assert "<svg" not in html.replace(uri[1], "")  # never inline


SVG_ATTACKS = [
    "<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'><script>alert(2)</script></svg>",
    "<svg xmlns='http://www.w3.org/2000/svg'><foreignObject><body xmlns='http://www.w3.org/1999/"
    "xhtml'><img src='x' onerror='alert(1)'/></body></foreignObject></svg>",
    "<svg xmlns='http://www.w3.org/2000/svg'><animate attributeName='href' "
    "values='javascript:alert(1)'/><set attributeName='onclick' to='alert(1)'/></svg>",
    "<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink'>"
    "<a xlink:href='javascript:alert(1)'><rect width='9' height='9'/></a>"
    "<image href='https://t.example/p.gif'/><use href='https://t.example/s.svg#x'/></svg>",
    "<svg xmlns='http://www.w3.org/2000/svg'><style>@import url(https://t.example/x.css);"
    "rect{fill:url(https://t.example/p)}</style><rect style='fill:url(https://t.example/q)'/>"
    "</svg>",
    "<svg xmlns='http://www.w3.org/2000/svg'><iframe src='https://t.example/'/>"
    "<html:script xmlns:html='http://www.w3.org/1999/xhtml'>alert(1)</html:script></svg>",
]


@pytest.mark.parametrize("payload", SVG_ATTACKS)
def test_an_svg_keeps_only_its_drawing(payload):
    svg = svg_clean(payload).decode().lower()

    assert svg.startswith("<svg")
    for needle in ["script", "onload", "onerror", "onclick", "foreignobject", "animate", "<set"]:
        assert needle not in svg
    for needle in ["javascript", "https://", "@import", "<a", "<iframe", "alert"]:
        assert needle not in svg


@pytest.mark.parametrize(
    "payload",
    [
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">]><svg>&a;</svg>',
        '<!DOCTYPE svg SYSTEM "file:///etc/passwd"><svg/>',
        "<html><svg/></html>",
        "not xml",
    ],
)
def test_an_svg_that_is_not_a_plain_document_is_not_shown(payload):
    assert svg_clean(payload) is None
    assert clean_html(f'<img src="{svg_uri(payload)}">') == "<img>"


def test_svg_kept_in_markdown_images_is_redrawn_and_stays_the_same_when_cleaned_again():
    uri = svg_uri(SVG_ATTACKS[0])
    once = clean_html(f'<img src="{uri}" alt="chart">')
    src = re.search(r'src="([^"]+)"', once)[1]

    assert "script" not in drawn(src) and "onload" not in drawn(src)
    assert clean_html(once) == once
    assert svg_data_uri_clean(src) == src
    assert sanitize.site_image(src)
    assert not sanitize.site_image(uri)  # the unredrawn form is not what the sanitizer keeps


def test_an_svg_chart_is_redrawn_without_loss():
    svg = svg_clean(SVG_CHART).decode()

    assert svg_clean(svg).decode() == svg
    assert svg.count("<path") == 1 and "equity" in svg


def test_an_svg_nested_past_the_limit_loses_what_is_deeper():
    svg = svg_clean("<svg>" + "<g>" * 200 + "<rect/>" + "</g>" * 200 + "</svg>").decode()

    assert svg.count("<g") == sanitize.SVG_MAX_DEPTH
    assert "<rect" not in svg
