"""Access logs without the heartbeat's noise.

A hub's discovery service asks the hub's REST API for its running servers at every heartbeat
(every second), and the hub's refresh hook asks the service about a user's login on that
user's hub requests. At info level each of those routine reads is a line of the hub's log, two
or more a second, burying what matters. Here they are debug-level; everything else is logged
as before: changes (a server stopped, a hub shut down), failures (4xx warning, 5xx error), and
slow answers (a second or more, info at least, as JupyterHub does).

- ``hub_log_request``: the hub's ``tornado_settings["log_function"]`` (``quanthub.configure``),
  JupyterHub's own ``log_request`` for every request but the discovery service's routine reads.
- ``service_log_request``: the discovery service's own web server's log function.

``c.JupyterHub.log_level = "DEBUG"`` (or the service's ``QUANTHUB_LOG_LEVEL=DEBUG``) shows
them again.
"""

import logging

from jupyterhub import orm
from jupyterhub.log import log_request as jupyterhub_log_request
from jupyterhub.log import prometheus_log_method
from tornado.log import access_log
from tornado.web import HTTPError, RequestHandler

from quanthub.settings import DISCOVERY_SERVICE

SLOW_SECONDS = 1.0


def access_level(handler: RequestHandler, *, routine: bool) -> int:
    """The level of a request's access-log line: debug for a routine read that succeeded
    quickly; info for another success; warning for 4xx; error for 5xx."""
    status = handler.get_status()
    if status >= 500:
        return logging.ERROR
    if status >= 400:
        return logging.WARNING
    if routine and handler.request.request_time() < SLOW_SECONDS:
        return logging.DEBUG
    return logging.INFO


def _from_discovery_service(handler: RequestHandler) -> bool:
    try:
        caller = handler.current_user
    except (HTTPError, RuntimeError):  # as JupyterHub's own log: no user for this request
        return False
    return isinstance(caller, orm.Service) and caller.name == DISCOVERY_SERVICE


def hub_log_request(handler: RequestHandler) -> None:
    """JupyterHub's access log, with the discovery service's successful reads (the running
    servers it asks for at every heartbeat) at debug level."""
    routine = handler.request.method == "GET" and _from_discovery_service(handler)
    if access_level(handler, routine=routine) > logging.DEBUG:
        jupyterhub_log_request(handler)
        return
    prometheus_log_method(handler)  # the hub's metrics count every request
    if access_log.isEnabledFor(logging.DEBUG):
        access_log.debug(_line(handler, caller=DISCOVERY_SERVICE))


def service_log_request(handler: RequestHandler) -> None:
    """tornado's access log for the discovery service, with its successful reads (the hub's
    session checks, on every request of a logged-in user) at debug level."""
    level = access_level(handler, routine=handler.request.method == "GET")
    if access_log.isEnabledFor(level):
        access_log.log(level, _line(handler))


def _line(handler: RequestHandler, *, caller: str = "") -> str:
    request = handler.request
    who = f"{caller}@{request.remote_ip}" if caller else request.remote_ip
    # The path only: query strings may carry tokens (JupyterHub scrubs them for the same reason).
    return (
        f"{handler.get_status()} {request.method} {request.path} ({who}) "
        f"{1000 * request.request_time():.2f}ms"
    )
