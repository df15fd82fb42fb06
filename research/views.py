from urllib.parse import quote

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from quantsite.api import error_status
from research.exceptions import NoHubAvailable, NotebookStoreError
from research.models import Hub
from research.selectors.notebooks import file_read, notebook_list
from research.services.assignment import assignment_locate
from research.shell import shell_for


class ResearchForm(forms.Form):
    """``/research?path=...``: a notebook path in the user's space to open, relative."""

    path = forms.CharField(required=False, max_length=1024, strip=False)

    def clean_path(self) -> str:
        path = self.cleaned_data["path"]
        parts = path.split("/")
        if (
            path.startswith("/")
            or any(part in {"..", "."} for part in parts)
            or any(ord(c) < 32 for c in path)
        ):
            raise forms.ValidationError("Use a relative path inside your research space.")
        return "/".join(part for part in parts if part)


def lab_url(hub: Hub, path: str) -> str:
    """Where the iframe points: the hub's user-redirect into JupyterLab, at ``path`` if given."""
    url = f"{hub.url}/hub/user-redirect/lab"
    return f"{url}/tree/{quote(path)}" if path else url


@never_cache
@login_required
@require_GET
def research(request: HttpRequest) -> HttpResponse:
    """The user's JupyterLab, on the hub discovery gives them, framed below the site's bar.

    A soft navigation here from another page of the site keeps the frame that is alive (and
    opens ``path`` in it by message); a full load renders the frame at ``path``."""
    form = ResearchForm(request.GET)
    if not form.is_valid():
        return render(request, "research/bad_path.html", {"form": form}, status=400)
    try:
        hub = assignment_locate(user=request.user)
    except NoHubAvailable as error:
        response = render(
            request,
            "research/no_hub.html",
            {"retry_after": error.retry_after, "message": error.message},
            status=503,
        )
        response["Retry-After"] = str(error.retry_after)
        return response

    # The page shows its hub in the research shell (templates/base.html): the shell's frame, a
    # full load's policy (frame-src) and the script's decision to keep a living frame or
    # replace it all follow this hub.
    shell_for(request, hub=hub)
    path = form.cleaned_data["path"]
    return render(
        request,
        "research/research.html",
        {"hub": hub, "lab_url": lab_url(hub, path), "path": path, "research_frame_shown": True},
    )


@login_required
@require_GET
def notebooks(request: HttpRequest) -> HttpResponse:
    """The user's notebooks on the site: size, last change, checkpoints, downloads."""
    entries = notebook_list(user=request.user)
    return render(request, "research/notebooks.html", {"entries": entries})


@login_required
@require_GET
def notebook_download(request: HttpRequest, path: str) -> HttpResponse:
    """The file's bytes as an attachment (the user's own files only)."""
    try:
        name, data = file_read(user=request.user, path=path)
    except NotebookStoreError as error:
        return render(request, "404.html", {"message": error.message}, status=error_status(error))
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response
