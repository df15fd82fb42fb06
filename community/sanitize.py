"""User content made safe to show: Markdown and rendered notebook HTML, through nh3.

Whatever a notebook or a post carries (``<script>``, ``onerror=``, ``javascript:`` links, SVG
with script, raw HTML in Markdown), what comes out has no script, no event handler and no
active URL. Rendered notebooks are, in addition, served with a CSP ``sandbox`` and shown in an
``<iframe sandbox>``: sanitizing is one wall, the sandbox another.

User HTML also cannot pass itself off as the site's or reach past the page:

- ``id``s get the ``user-content-`` prefix (in-page ``href="#x"`` links follow), so no post
  can take an id the site's pages use (``research-frame``);
- a ``class`` is kept only if the renderer itself emits it (``RENDERER_CLASSES``: nbconvert's
  classic and lab templates, Pygments under ``hl-``, ANSI colours, Markdown fences), so no post
  wears the site's own classes (a link styled as its button);
- images load only from the site: ``data:`` URIs of raster types and same-site paths;
  anything else loses its ``src`` (no tracking beacons), and the forum's CSP says the same;
- no attribute of the site's navigation library survives (htmx's ``hx-*``/``data-hx-*``, and
  Turbo's ``data-turbo*``): user markup cannot make the site's pages fetch, post or swap
  anything (``NAVIGATION_ATTRIBUTES``; the pages also wrap user markup in ``hx-disable``);
- MathML and SVG, should they be allowed later, never keep ``annotation``/``annotation-xml``
  or SVG animation elements, known sanitizer bypasses: they and their content are removed
  (``NEVER``), and nh3 refuses to run if ``TAGS`` ever names one of them.
"""

import re

import markdown as markdown_lib
import nh3

# What rendered notebooks and posts may use: structure, tables, code, images, math markup.
TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
    "var",
}
ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start"},
}
# Attributes the site's soft navigation (htmx) or a library like it would act on: never kept,
# whatever ATTRIBUTES says (checked below, and by _filter at every attribute).
NAVIGATION_ATTRIBUTES = re.compile(r"(?:data-)?hx-|data-turbo", re.IGNORECASE)
if any(NAVIGATION_ATTRIBUTES.match(name) for names in ATTRIBUTES.values() for name in names):
    raise ImportError("community.sanitize: ATTRIBUTES must not allow navigation attributes")
# Links may go to the web; images may also be inline data (notebook outputs are data: PNGs).
URL_SCHEMES = {"http", "https", "mailto", "data"}
# Removed with everything inside them, whatever TAGS says: script and style, and the MathML
# and SVG elements that smuggle HTML or script past sanitizers (annotation-xml holds HTML;
# SVG animation rewrites attributes, an href to javascript: among them).
NEVER = {
    "script",
    "style",
    "annotation",
    "annotation-xml",
    "animate",
    "animatemotion",
    "animateMotion",
    "animatetransform",
    "animateTransform",
    "discard",
    "set",
}

ID_PREFIX = "user-content-"
# The classes nbconvert's classic template (``basic``) writes around cells and outputs.
CLASSIC_CLASSES = {
    "anchor-link",
    "border-box-sizing",
    "cell",
    "code_cell",
    "highlight",
    "inner_cell",
    "input",
    "input_area",
    "input_prompt",
    "output",
    "output_area",
    "output_error",
    "output_execute_result",
    "output_html",
    "output_javascript",
    "output_jpeg",
    "output_latex",
    "output_markdown",
    "output_png",
    "output_prompt",
    "output_stderr",
    "output_stdout",
    "output_stream",
    "output_subarea",
    "output_svg",
    "output_text",
    "output_wrapper",
    "prompt",
    "rendered",
    "rendered_html",
    "text_cell",
    "text_cell_render",
}
# Families the renderer emits: JupyterLab's template (jp-, lm-), Pygments tokens and languages
# under the renderer's prefix (hl-, see rendering.HIGHLIGHT_PREFIX), ANSI colours of outputs,
# and Markdown fences of posts (language-).
CLASS_FAMILIES = re.compile(r"(?:jp|lm|hl|ansi|language)-[A-Za-z0-9_-]{1,64}")
RASTER_DATA = ("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp")


def renderer_class(name: str) -> bool:
    """Whether ``name`` is a class the renderer emits, and so may stay on user HTML."""
    return name in CLASSIC_CLASSES or CLASS_FAMILIES.fullmatch(name) is not None


def site_image(src: str) -> bool:
    """An image source that loads nothing from off the site: a raster ``data:`` URI, or a
    path on this site (``/…``, never ``//host`` or ``/\\host``, which browsers send off-site)."""
    lowered = src.strip().lower()
    if lowered.startswith(RASTER_DATA):
        return True
    return lowered.startswith("/") and not lowered.startswith(("//", "/\\"))


def _prefixed(value: str) -> str:
    return value if value.startswith(ID_PREFIX) else ID_PREFIX + value


def _filter(element: str, attribute: str, value: str) -> str | None:
    if NAVIGATION_ATTRIBUTES.match(attribute):
        return None
    if attribute == "class":
        kept = [name for name in value.split() if renderer_class(name)]
        return " ".join(kept) or None
    if attribute == "id":
        return _prefixed(value) if value else None
    if element == "img" and attribute == "src":
        return value if site_image(value) else None
    if attribute == "href":
        if value.startswith("#") and len(value) > 1:  # an in-page link follows its id
            return "#" + _prefixed(value[1:])
        # data: only for images: never a link (an HTML or SVG document in disguise).
        if value.strip().lower().startswith("data:"):
            return None
    return value


def clean_html(html: str) -> str:
    """Sanitized HTML: allowed tags and attributes only; scripts and handlers are gone; ids
    prefixed, classes the renderer's, images the site's (see the module's docstring)."""
    return nh3.clean(
        html,
        tags=TAGS,
        clean_content_tags=NEVER,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=_filter,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def markdown_to_html(text: str) -> str:
    """A post's Markdown as sanitized HTML (raw HTML in the Markdown is sanitized too)."""
    return clean_html(markdown_lib.markdown(text, extensions=["fenced_code", "tables"]))
