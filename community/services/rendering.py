"""Rendering a shared notebook version: sanitized HTML of the whole notebook, a preview of its
showcase cell, and a thumbnail of its first image output that the server draws anew.
Idempotent: a ready version is left as it is. ``render_queue`` queues it."""

import base64
import binascii
import copy
import io
import logging
import re
import threading
import warnings

import nbformat
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape
from jinja2 import DictLoader, pass_context
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert import HTMLExporter
from nbconvert.exporters import TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from PIL import Image
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from community.highlight import HIGHLIGHT_PREFIX
from community.models import SharedNotebookVersion
from community.sanitize import clean_html
from community.services.outline import notebook_outline
from community.storage import StorageUnavailable, store_immutable, stored_bytes

logger = logging.getLogger(__name__)
State = SharedNotebookVersion.RenderState

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
THUMBNAIL_BOX = (480, 320)
# Larger images are not decoded (a decompression bomb is small on disk and huge in memory).
THUMBNAIL_MAX_PIXELS = 40_000_000
# The list shows 50 previews a page: each is cut to this much source and output text.
PREVIEW_MAX_CHARS = 1_500
PREVIEW_MAX_OUTPUTS = 3


IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)")
# Longer formulas are shown as their source: converting is quick, but not without bound.
MATH_MAX_CHARS = 5_000
# nbconvert's classic template with compact prompts, as GitHub and nbviewer show them: ``[3]``
# in the margin beside the cell, not an ``In [3]:`` line (the page's style sets the margin).
TEMPLATE = "quantsite_notebook.html.j2"
TEMPLATE_SOURCE = """{%- extends 'basic/index.html.j2' -%}
{% block in_prompt -%}
<div class="prompt input_prompt">
{%- if cell.execution_count -%}[{{ cell.execution_count }}]{%- else -%}[&nbsp;]{%- endif -%}
</div>
{%- endblock in_prompt %}
{% block output_area_prompt %}
{%- if output.output_type == 'execute_result' and cell.execution_count -%}
<div class="prompt output_prompt">[{{ cell.execution_count }}]</div>
{%- else -%}
<div class="prompt"></div>
{%- endif -%}
{% endblock output_area_prompt %}
"""


def math_html(source: str, *, display: bool) -> str:
    """A formula as MathML (latex2mathml), or, if it cannot be converted, its source as
    code: a formula a reader typed wrong is shown as typed, and the render goes on."""
    if len(source) <= MATH_MAX_CHARS:
        try:
            return latex_to_mathml(source, display="block" if display else "inline")
        except Exception:  # latex2mathml raises its own kinds, and IndexError/KeyError on some
            logger.info("A formula could not be converted to MathML", exc_info=True)
    return f"<code>{escape(source)}</code>"


def _trimmed(nb):
    """The notebook without its trailing empty cells (no source, no outputs), which a
    notebook often ends with and a reader has no use for; the notebook itself is kept."""
    cells = list(nb.cells)
    while (
        cells and not "".join(cells[-1].get("source", "")).strip() and not cells[-1].get("outputs")
    ):
        cells.pop()
    trimmed = copy.copy(nb)
    trimmed.cells = cells
    return trimmed


class PrefixedRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, its fenced code highlighted under ``HIGHLIGHT_PREFIX``."""

    def block_code(self, code: str, info: str | None = None) -> str:
        lang = info.strip().split(maxsplit=1)[0] if info and info.strip() else ""
        if not lang or lang.startswith("mermaid"):
            return super().block_code(code, info=info)
        try:
            lexer = get_lexer_by_name(lang, **self.lexer_options)
        except ClassNotFound:
            return super().block_code(code, info=info)
        return highlight(code, lexer, HtmlFormatter(classprefix=HIGHLIGHT_PREFIX))

    # nbconvert's MarkdownWithMath keeps math spans for MathJax in the browser; the page runs
    # no such script, so they become MathML here (the sanitizer keeps MathML's layout only).
    def block_math(self, body: str) -> str:
        return math_html(body, display=True)

    def inline_math(self, body: str) -> str:
        return math_html(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return math_html(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


class BodyExporter(HTMLExporter):
    """nbconvert's HTML exporter on its ``basic`` template (the body only: the page around it
    is ours), without its last step.

    ``HTMLExporter.from_notebook_node`` ends by parsing the whole page again with
    BeautifulSoup to add ``alt`` and ``tabindex`` attributes: about 80% of the time to render a
    1 MB notebook. Here the same setup is done, the template is rendered, and images get
    their ``alt`` from a pattern (before sanitizing, which checks everything again).
    """

    @pass_context
    def markdown2html(self, context, source):
        """nbconvert's filter, with ``PrefixedRenderer`` (attachments are not embedded: an
        image that is not the site's is dropped by the sanitizer anyway)."""
        renderer = PrefixedRenderer(
            escape=False,
            attachments=context.get("cell", {}).get("attachments", {}),
            embed_images=False,
            path="",
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
        )
        return MarkdownWithMath(renderer=renderer).render(source)

    def from_notebook_node(self, nb, resources=None, **kw):
        info = nb.metadata.get("language_info", {})
        lexer = info.get("pygments_lexer", info.get("name", None))
        self.register_filter(
            "highlight_code",
            Highlight2HTML(
                pygments_lexer=lexer,
                extra_formatter_options={"classprefix": HIGHLIGHT_PREFIX},
                parent=self,
            ),
        )
        resources = self._init_resources(resources)
        self.register_filter(
            "filter_data_type",
            WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources
            ),
        )
        html, resources = TemplateExporter.from_notebook_node(self, _trimmed(nb), resources, **kw)
        return IMG_WITHOUT_ALT.sub('<img alt="Output of the cell"', html), resources


_local = threading.local()


def _html(nb) -> str:
    # One exporter per thread (its templates compile once); filters are set per notebook.
    if not hasattr(_local, "exporter"):
        _local.exporter = BodyExporter(
            template_name="basic",
            template_file=TEMPLATE,
            extra_loaders=[DictLoader({TEMPLATE: TEMPLATE_SOURCE})],
        )
    body, _resources = _local.exporter.from_notebook_node(nb)
    return clean_html(body)


def _images(cell):
    """Encoded image outputs of a cell, in order, as (mime type, base64 text)."""
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        for mime in IMAGE_TYPES:
            if isinstance(data.get(mime), str):
                yield mime, data[mime]


def thumbnail_png(encoded: str) -> bytes | None:
    """A PNG thumbnail drawn from a base64 image output; None if it is not a sound image.

    Only pixels carry over: the image is decoded and drawn anew, so nothing else in the
    file (metadata, trailing bytes, another format in disguise) reaches a reader.
    """
    try:
        raw = base64.b64decode(encoded, validate=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as image:
                if image.width * image.height > THUMBNAIL_MAX_PIXELS:
                    return None
                image.draft("RGB", THUMBNAIL_BOX)  # JPEG: decode at a reduced scale
                image.thumbnail(THUMBNAIL_BOX)
                mode = "RGBA" if image.mode in {"RGBA", "LA", "P", "PA"} else "RGB"
                drawn = image.convert(mode)
    except (
        binascii.Error,
        ValueError,
        OSError,
        SyntaxError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ):
        return None
    out = io.BytesIO()
    drawn.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _thumbnail_key(nb, showcase: int) -> str:
    """The thumbnail of the showcase cell's first sound image, else of the notebook's first."""
    cells = [nb.cells[showcase], *(c for i, c in enumerate(nb.cells) if i != showcase)]
    for cell in cells:
        for _mime, encoded in _images(cell):
            png = thumbnail_png(encoded)
            if png is not None:
                return store_immutable(png, ".png")
    return ""


def _clip(text) -> str:
    text = "".join(text) if isinstance(text, list) else str(text)
    return text if len(text) <= PREVIEW_MAX_CHARS else text[:PREVIEW_MAX_CHARS] + "\n…"


def _preview_cell(cell):
    """The showcase cell as the list shows it: images left to the thumbnail, text clipped."""
    cell = copy.deepcopy(cell)
    cell.source = _clip(cell.source)
    if cell.cell_type != "code":
        return cell
    outputs = []
    for output in cell.outputs[:PREVIEW_MAX_OUTPUTS]:
        if "text" in output:
            output.text = _clip(output.text)
        if "data" in output:
            data = {k: v for k, v in output.data.items() if not k.startswith("image/")}
            if not data:
                continue
            output.data = {
                k: _clip(v) if isinstance(v, (str, list)) else v for k, v in data.items()
            }
        if "traceback" in output:
            output.traceback = output.traceback[-5:]
        outputs.append(output)
    cell.outputs = outputs
    return cell


def shared_notebook_render(*, version_id: int) -> SharedNotebookVersion | None:
    """Render the version if it is not rendered yet; None if it no longer exists.

    The row is locked with ``SKIP LOCKED``: a second worker on the same version returns at
    once, and a rerun after success changes nothing. A notebook that cannot be rendered (or
    whose file is gone from the store) is marked failed with the reason; ``StorageUnavailable``
    (the store failed or timed out) propagates and leaves the version pending, for a retry.
    """
    with transaction.atomic():
        version = (
            SharedNotebookVersion.objects.select_for_update(skip_locked=True)
            .filter(pk=version_id)
            .first()
        )
        if version is None or version.render_state != State.PENDING:
            return version
        try:
            data = stored_bytes(version.ipynb_key)
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
            html = _html(nb)
            showcase = nbformat.v4.new_notebook(
                cells=[_preview_cell(nb.cells[version.showcase_cell])]
            )
            preview = _html(showcase)
        except StorageUnavailable:
            raise
        except Exception as error:  # nbconvert raises many kinds; StoredFileMissing too
            logger.exception("Shared notebook version %s could not be rendered", version.pk)
            version.render_state = State.FAILED
            version.render_error = f"{type(error).__name__}: {error}"[:255]
            version.save(update_fields=["render_state", "render_error"])
            return version
        version.preview_html = preview
        version.thumbnail_key = _thumbnail_key(nb, version.showcase_cell)
        version.html_key = store_immutable(html.encode(), ".html")
        version.outline = notebook_outline(html)
        version.render_state = State.READY
        version.rendered_at = timezone.now()
        version.save(
            update_fields=[
                "preview_html",
                "thumbnail_key",
                "html_key",
                "outline",
                "render_state",
                "rendered_at",
            ]
        )
        return version
