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
  an SVG ``data:`` URI (base64) is kept only as ``svg_clean`` redraws it (parsed without
  DTDs or entities, its allowed elements and attributes copied into a new document), whoever
  wrote it, a Markdown author included;
- MathML (what latex2mathml writes for a notebook's formulas) keeps its layout elements and
  attributes only: no ``href``, no ``maction``, no ``mglyph``, nothing namespaced;
- no attribute of the site's navigation library survives (htmx's ``hx-*``/``data-hx-*``, and
  Turbo's ``data-turbo*``): user markup cannot make the site's pages fetch, post or swap
  anything (``NAVIGATION_ATTRIBUTES``; the pages also wrap user markup in ``hx-disable``);
- MathML and SVG never keep ``annotation``/``annotation-xml``, ``foreignObject`` or SVG
  animation elements, known sanitizer bypasses: they and their content are removed
  (``NEVER``), and nh3 refuses to run if ``TAGS`` ever names one of them. Inline SVG is not
  allowed at all: SVG outputs are images (``<img src="data:image/svg+xml;base64,…">``).
"""

import base64
import binascii
import re
from xml.etree import ElementTree

import markdown as markdown_lib
import nh3
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as xml_fromstring

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
# The MathML that latex2mathml writes (community.services.rendering converts a notebook's
# formulas with it): presentation elements only. Not ``maction`` (it switches what shows on a
# click), ``mglyph`` (an image by URL), ``semantics`` (it exists to carry annotations).
MATH_TAGS = {
    "math",
    "menclose",
    "merror",
    "mfrac",
    "mi",
    "mmultiscripts",
    "mn",
    "mo",
    "mover",
    "mpadded",
    "mphantom",
    "mprescripts",
    "mroot",
    "mrow",
    "ms",
    "mspace",
    "msqrt",
    "mstyle",
    "msub",
    "msubsup",
    "msup",
    "mtable",
    "mtd",
    "mtext",
    "mtr",
    "munder",
    "munderover",
}
# Layout and spacing only: no href, no src, nothing that names a URL.
MATH_ATTRIBUTES = {
    "accent",
    "accentunder",
    "align",
    "columnalign",
    "columnlines",
    "columnspacing",
    "columnspan",
    "depth",
    "displaystyle",
    "fence",
    "form",
    "frame",
    "framespacing",
    "height",
    "largeop",
    "linethickness",
    "lspace",
    "mathcolor",
    "mathsize",
    "mathvariant",
    "maxsize",
    "minsize",
    "movablelimits",
    "notation",
    "rowalign",
    "rowlines",
    "rowspacing",
    "rowspan",
    "rspace",
    "scriptlevel",
    "separator",
    "stretchy",
    "symmetric",
    "voffset",
    "width",
}
TAGS |= MATH_TAGS
ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start"},
    "math": {"display", *MATH_ATTRIBUTES},
    **{tag: MATH_ATTRIBUTES for tag in MATH_TAGS - {"math"}},
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
    "foreignobject",
    "foreignObject",
    "set",
}
# nh3 refuses ``TAGS`` that overlap ``clean_content_tags``; this names the file's own promise.
if TAGS & NEVER or any(name.lower() in {"svg", "maction", "mglyph"} for name in TAGS):
    raise ImportError("community.sanitize: TAGS must not allow NEVER's elements or inline SVG")

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
SVG_DATA = "data:image/svg+xml"


def renderer_class(name: str) -> bool:
    """Whether ``name`` is a class the renderer emits, and so may stay on user HTML."""
    return name in CLASSIC_CLASSES or CLASS_FAMILIES.fullmatch(name) is not None


def site_image(src: str) -> bool:
    """An image source that loads nothing from off the site: a raster ``data:`` URI, an SVG
    one that ``svg_clean`` has drawn (it is its own output again), or a path on this site
    (``/…``, never ``//host`` or ``/\\host``, which browsers send off-site)."""
    lowered = src.strip().lower()
    if lowered.startswith(RASTER_DATA):
        return True
    if lowered.startswith(SVG_DATA):
        return svg_data_uri_clean(src.strip()) == src.strip()
    return lowered.startswith("/") and not lowered.startswith(("//", "/\\"))


def _image_source(src: str) -> str | None:
    """What an ``img`` keeps of its ``src``: an SVG ``data:`` URI redrawn by
    ``svg_clean`` (None if it is not a sound SVG), any other site image as it is."""
    if src.strip().lower().startswith(SVG_DATA):
        return svg_data_uri_clean(src.strip())
    return src if site_image(src) else None


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
        return _image_source(value)
    if attribute == "href":
        if value.startswith("#") and len(value) > 1:  # an in-page link follows its id
            return "#" + _prefixed(value[1:])
        # data: only for images: never a link (an HTML or SVG document in disguise).
        if value.strip().lower().startswith("data:"):
            return None
    return value


# SVG outputs (matplotlib, plotly's static export, any image/svg+xml) are shown as images of a
# redrawn document: an <img> runs no script and loads nothing, and the redrawing keeps only
# these elements (no script, foreignObject, animation, a, iframe, …) whatever the browser does.
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
SVG_ELEMENTS = {
    "circle",
    "clipPath",
    "defs",
    "desc",
    "ellipse",
    "feBlend",
    "feColorMatrix",
    "feComposite",
    "feFlood",
    "feGaussianBlur",
    "feMerge",
    "feMergeNode",
    "feOffset",
    "filter",
    "g",
    "image",
    "line",
    "linearGradient",
    "marker",
    "mask",
    "path",
    "pattern",
    "polygon",
    "polyline",
    "radialGradient",
    "rect",
    "stop",
    "style",
    "svg",
    "symbol",
    "text",
    "textPath",
    "title",
    "tspan",
    "use",
}
# (SVG's <style> is kept, its CSS checked by CSS_OUTSIDE: the image cannot load anything.)
if {name.lower() for name in SVG_ELEMENTS} & ({"a", "script", "iframe"} | NEVER) - {"style"}:
    raise ImportError("community.sanitize: SVG_ELEMENTS must not allow script, links, NEVER")
SVG_DATA_BASE64 = "data:image/svg+xml;base64,"
SVG_MAX_BYTES = 8_000_000
SVG_MAX_DEPTH = 100
SVG_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")
# CSS in an SVG may point only inside the document (``url(#clip1)``): no @import, no escapes.
CSS_OUTSIDE = re.compile(r"@import|expression|\\|url\(\s*(?![\s'\"]*#)", re.IGNORECASE)


def _svg_href(element: str, value: str) -> str | None:
    value = value.strip()
    if value.startswith("#"):
        return value
    if element == "image" and value.lower().startswith(RASTER_DATA):
        return value
    return None


def _svg_copy(source, depth: int):
    """A new element holding what ``source`` may keep, or None if it is dropped whole."""
    namespace, _, name = source.tag.rpartition("}") if isinstance(source.tag, str) else ("", "", "")
    if namespace not in ("", "{" + SVG_NS) or name not in SVG_ELEMENTS or depth > SVG_MAX_DEPTH:
        return None
    copy = ElementTree.Element(name)
    for attribute, value in source.attrib.items():
        if attribute == XLINK_HREF or attribute == "href":
            kept = _svg_href(name, value)
            if kept is not None:
                copy.set("href", kept)
            continue
        lowered = attribute.lower()
        if not SVG_ATTRIBUTE.fullmatch(attribute) or lowered.startswith("on") or ":" in attribute:
            continue
        if CSS_OUTSIDE.search(value):
            continue
        copy.set(attribute, value)
    if source.text and (name != "style" or not CSS_OUTSIDE.search(source.text)):
        copy.text = source.text
    for child in source:
        kept = _svg_copy(child, depth + 1)
        if kept is not None:
            kept.tail = child.tail
            copy.append(kept)
    return copy


def svg_clean(svg: str | bytes) -> bytes | None:
    """An SVG document redrawn with only what ``SVG_ELEMENTS`` and safe attributes allow; None
    if it is not a sound SVG (not XML, a DTD or entities, not an ``<svg>``, too large)."""
    raw = svg.encode() if isinstance(svg, str) else svg
    if len(raw) > SVG_MAX_BYTES:
        return None
    try:
        root = xml_fromstring(raw, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        return None
    if root.tag not in ("svg", "{" + SVG_NS + "}svg"):
        return None
    try:
        drawn = _svg_copy(root, 0)
    except RecursionError:
        return None
    drawn.set("xmlns", SVG_NS)
    return ElementTree.tostring(drawn, encoding="unicode").encode()


def svg_data_uri_clean(uri: str) -> str | None:
    """A base64 SVG ``data:`` URI of the document ``svg_clean`` redraws from it (its own
    output comes back unchanged); None for any other form or an unsound SVG."""
    if not uri.lower().startswith(SVG_DATA_BASE64):
        return None
    try:
        raw = base64.b64decode(uri[len(SVG_DATA_BASE64) :], validate=False)
    except (binascii.Error, ValueError):
        return None
    drawn = svg_clean(raw)
    return None if drawn is None else SVG_DATA_BASE64 + base64.b64encode(drawn).decode()


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
