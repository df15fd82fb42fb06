"""Rendering a shared notebook version: sanitized HTML of the whole notebook, and a preview of
its showcase cell. Idempotent: a ready version is left as it is."""

import nbformat
from django.db import transaction
from django.utils import timezone
from nbconvert import HTMLExporter

from community.models import SharedNotebookVersion
from community.sanitize import clean_html
from community.services.sharing import storage, store_immutable

Ready = SharedNotebookVersion.RenderState


def _html(nb) -> str:
    exporter = HTMLExporter(template_name="basic")  # body only: the page around it is ours
    body, _resources = exporter.from_notebook_node(nb)
    return clean_html(body)


def shared_notebook_render(*, version_id: int) -> SharedNotebookVersion | None:
    """Render the version if it is not rendered yet; None if it no longer exists.

    The row is locked with ``SKIP LOCKED``: a second worker on the same version returns at
    once, and a rerun after success changes nothing.
    """
    with transaction.atomic():
        version = (
            SharedNotebookVersion.objects.select_for_update(skip_locked=True)
            .filter(pk=version_id)
            .first()
        )
        if version is None or version.render_state == Ready.READY:
            return version
        with storage().open(version.ipynb_key, "rb") as handle:
            nb = nbformat.reads(handle.read().decode("utf-8"), as_version=4)
        html = _html(nb)
        showcase = nbformat.v4.new_notebook(cells=[nb.cells[version.showcase_cell]])
        version.preview_html = _html(showcase)
        version.html_key = store_immutable(html.encode(), ".html")
        version.render_state = Ready.READY
        version.rendered_at = timezone.now()
        version.save(update_fields=["preview_html", "html_key", "render_state", "rendered_at"])
        return version
