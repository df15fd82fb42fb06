"""User content made safe to show: Markdown and rendered notebook HTML, through nh3.

Whatever a notebook or a post carries (``<script>``, ``onerror=``, ``javascript:`` links, SVG
with script, raw HTML in Markdown), what comes out has no script, no event handler and no
active URL. Rendered notebooks are, in addition, served with a CSP ``sandbox`` and shown in an
``<iframe sandbox>``: sanitizing is one wall, the sandbox another.
"""

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
# Links may go to the web; images may also be inline data (notebook outputs are data: PNGs).
URL_SCHEMES = {"http", "https", "mailto", "data"}


def _filter(element: str, attribute: str, value: str) -> str | None:
    # data: only for images, and only images: never a link or an SVG document.
    lowered = value.strip().lower()
    inline_image = element == "img" and lowered.startswith(
        ("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp")
    )
    if attribute in {"href", "src"} and lowered.startswith("data:") and not inline_image:
        return None
    return value


def clean_html(html: str) -> str:
    """Sanitized HTML: allowed tags and attributes only; scripts and handlers are gone."""
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=_filter,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def markdown_to_html(text: str) -> str:
    """A post's Markdown as sanitized HTML (raw HTML in the Markdown is sanitized too)."""
    return clean_html(markdown_lib.markdown(text, extensions=["fenced_code", "tables"]))
