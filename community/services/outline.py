"""A rendered notebook's outline: the headings of its Markdown cells, for the topic page's
"Contents" list.

It is read from the rendered, sanitized HTML (``rendering._html``), not from the Markdown:
the ids there are the ones the page carries (nbconvert's ``add_anchor`` ids, prefixed
``user-content-`` by the sanitizer), so every link of the outline points at a heading the
frame really has, whatever the Markdown renderer or the sanitizer do to a heading's text.
Only headings inside a Markdown cell's rendering (``text_cell_render``) count: a heading in a
cell's HTML output is output, not structure. Headings without an id (raw ``<h4>`` written in
HTML) cannot be linked to and are left out.
"""

from html.parser import HTMLParser

from community.sanitize import ID_PREFIX

# A notebook of 5,000 headings gets a list a reader can still scroll.
OUTLINE_MAX_ENTRIES = 200
OUTLINE_MAX_TEXT = 120
HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Elements that never have content or an end tag: never pushed on the stack.
VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
MARKDOWN_CELL_CLASS = "text_cell_render"
ANCHOR_LINK_CLASS = "anchor-link"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= OUTLINE_MAX_TEXT else text[: OUTLINE_MAX_TEXT - 1] + "…"


class _Headings(HTMLParser):
    """Collects ``{"level", "text", "anchor"}`` of headings within Markdown cells."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.entries: list[dict] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, opens a Markdown cell's rendering)
        self._cells = 0  # how many Markdown cell renderings we are inside
        self._heading: dict | None = None
        self._text: list[str] = []
        self._skip = 0  # depth inside the heading's own "¶" link

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        opens_cell = MARKDOWN_CELL_CLASS in classes
        self._stack.append((tag, opens_cell))
        self._cells += opens_cell
        if self._heading is not None:
            if self._skip or ANCHOR_LINK_CLASS in classes:
                self._skip += 1
            return
        anchor = attrs.get("id") or ""
        if tag in HEADINGS and self._cells and anchor.startswith(ID_PREFIX):
            self._heading = {"level": HEADINGS[tag], "anchor": anchor}
            self._text = []

    def handle_startendtag(self, tag, attrs):
        if tag not in VOID:  # <div/> in HTML is a start tag
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        # Sanitized HTML is well formed; still, an end tag with no open element is ignored,
        # and one that closes an outer element closes everything inside it.
        if not any(open_tag == tag for open_tag, _ in self._stack):
            return
        while self._stack:
            open_tag, opened_cell = self._stack.pop()
            self._cells -= opened_cell
            if self._skip:
                self._skip -= 1
            elif self._heading is not None and open_tag in HEADINGS:
                self._finish()
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self._heading is not None and not self._skip:
            self._text.append(data)

    def _finish(self):
        text = _clip("".join(self._text))
        if text and len(self.entries) < OUTLINE_MAX_ENTRIES:
            self.entries.append({**self._heading, "text": text})
        self._heading = None


def notebook_outline(html: str) -> list[dict]:
    """The outline of a rendered notebook: up to ``OUTLINE_MAX_ENTRIES`` headings of its
    Markdown cells, in order, each ``{"level": 1..6, "text": plain text (whitespace collapsed,
    at most ``OUTLINE_MAX_TEXT`` characters), "anchor": the heading's id in ``html``}``.

    ``html`` is the notebook as ``community.services.rendering`` renders it (sanitized);
    the text is plain (markup dropped, entities decoded): a template escapes it.
    """
    parser = _Headings()
    parser.feed(html)
    parser.close()
    return parser.entries
