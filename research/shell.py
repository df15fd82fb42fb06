"""The research shell: what every page of the site needs so that JupyterLab lives across it.

The site is one document (templates/base.html): links within it swap the page's content while
the research frame, outside that content, lives on. Every page therefore needs to know, for a
signed-in person, the hub of their open assignment (the page's CSP lets it frame that hub, and
its script keeps or replaces the frame accordingly), and whether their server should start now,
before they ask for it (``research.services.prestart``): then the page has the person's own
browser ask their hub to start it, through the normal login, once per site session.

``request.research_shell`` is lazy: only a page that renders the shell asks, so APIs, files and
redirects cost nothing. ``/research`` sets it itself from the hub it has just located.
"""

import dataclasses
import logging
from urllib.parse import urlencode

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from research.models import Hub
from research.selectors.discovery import assignment_open_for_user
from research.services.prestart import research_prestart

log = logging.getLogger(__name__)

# Set in the site session once its pre-start was decided, so a session decides it once.
PRESTART_DECIDED = "research_prestart_decided"
# Where a pre-start's hidden frame lands after the server is asked for: the hub's own light
# home page, not the server (which would load JupyterLab, and its activity would keep an
# unused server from ever being culled).
PRESTART_NEXT = "/hub/home"


@dataclasses.dataclass(frozen=True)
class ResearchShell:
    hub: Hub | None = None  # the hub of the person's open assignment
    prestart: bool = False  # start their server now, in the background

    @property
    def hub_origin(self) -> str:
        return self.hub.origin if self.hub else ""

    @property
    def prestart_url(self) -> str:
        """The hub page that starts the person's server through their own login."""
        if not (self.prestart and self.hub):
            return ""
        return f"{self.hub.url}/hub/spawn?{urlencode({'next': PRESTART_NEXT})}"


def research_shell(request: HttpRequest) -> ResearchShell:
    """The shell of this request's page: the person's hub, and whether to pre-start now.

    The pre-start is decided at the first page of a site session that asks; the frame origin
    the page may show joins the response's CSP (``frame-src``).
    """
    user = request.user
    if not user.is_authenticated:
        return ResearchShell()
    hub, prestart = None, False
    if not request.session.get(PRESTART_DECIDED):
        request.session[PRESTART_DECIDED] = True
        try:
            hub = research_prestart(user=user)
        except DatabaseError:
            # A pre-start is a convenience: a lock conflict with a heartbeat (or any database
            # error in it, rolled back) costs this page nothing but the head start.
            log.warning("pre-start for %s failed", user.username, exc_info=True)
            hub = None
        prestart = hub is not None
    if hub is None:
        assignment = assignment_open_for_user(user_id=user.pk)
        hub = assignment.hub if assignment else None
    return shell_for(request, hub=hub, prestart=prestart)


def shell_for(request: HttpRequest, *, hub: Hub | None, prestart: bool = False) -> ResearchShell:
    """The shell showing ``hub``: ``request.research_shell`` from now on, and ``hub``'s origin
    in this response's ``frame-src``."""
    if hub is not None and not prestart and not request.session.get(PRESTART_DECIDED):
        # The person has their research open: this session needs no pre-start.
        request.session[PRESTART_DECIDED] = True
    shell = ResearchShell(hub=hub, prestart=prestart)
    if hub is not None:
        request.csp_frame_origins.append(hub.origin)
    request.research_shell = shell
    return shell


class ResearchShellMiddleware:
    """Puts a lazy ``request.research_shell`` on every request (see the module)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.research_shell = SimpleLazyObject(lambda: research_shell(request))
        return self.get_response(request)
