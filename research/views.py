from urllib.parse import quote

from csp import constants as csp_constants
from csp.decorators import csp_update
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
    """The user's JupyterLab, on the hub discovery gives them, framed below the site's bar."""
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

    # The page frames its hub and nothing else; the site's own origin is there because the
    # hub's login passes through /o/authorize inside the frame. No one may frame this page (the
    # site's policy, which this adds to). The hub is known only now, so django-csp's public
    # decorator goes on the function that renders the page rather than on the view (the other
    # way would be setting the private response attribute it sets, ``_csp_update``).
    @csp_update({"frame-src": [csp_constants.SELF, hub.origin]})
    def page(request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "research/research.html",
            {"hub": hub, "lab_url": lab_url(hub, form.cleaned_data["path"])},
        )

    return page(request)


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
