"""Ending a user's hub login when the site says so (in the hub process).

The discovery service records when the site ended a user's hub login: the heartbeat's answer
listed them in ``stop`` (moved, disabled or deleted: their server stops too) or in ``logout``
(they logged out of the site: their server keeps running). JupyterHub asks the authenticator's
``refresh_user`` on the user's hub requests once ``auth_refresh_age`` (here:
``Quanthub.session_check_interval``, a second) has passed: cookie requests from their browser,
and requests made with the user's tokens (their server checking a browser's login, or reporting
activity). oauthenticator's refresh calls this hook first, which

- returns False (log in again) when the site ended the user's login after their last login on
  this hub: with automatic login that goes back to the site, which asks a logged-out user to
  log in and refuses a disabled one. It also ends the user's sessions on their server
  (``end_server_sessions``);
- returns None (oauthenticator checks the user's stored token with the site's userinfo) every
  ``site_check_age`` seconds, so a token the site revoked ends the login too;
- returns True (up to date) otherwise.

Why not ``Authenticator.auth_refresh_strict``: JupyterHub would then refuse every request made
with the user's tokens until they log in again, the server's own ``JUPYTERHUB_API_TOKEN`` too:
its activity reports (the idle culler would stop a server whose kernel is busy) and its
notebook-credential renewals (the discovery service checks that token with the hub), and,
with ``refresh_pre_spawn``, a service's or an admin's spawn for the user. Nor a hub role with the
``tokens`` scope for the discovery service: that scope also creates tokens for any user, with
that user's permissions. The hub process already owns its database, so ending the sessions
here grants nobody anything.
"""

import datetime as dt
import logging
import time
from urllib.parse import quote

from jupyterhub import orm
from sqlalchemy import or_

from quanthub.client import SiteClient, SiteError

log = logging.getLogger("quanthub.sessions")

# When each user last logged in on this hub (this process): an end before it is history.
_logins: dict[str, float] = {}


async def remember_login(authenticator, handler, authentication: dict) -> dict:
    """``post_auth_hook``: note the time of the user's login."""
    _logins[authentication["name"]] = time.time()
    return authentication


def end_server_sessions(user) -> int:
    """Expire ``user``'s hub tokens that belong to a browser session: the OAuth tokens their
    server's login cookie carries, the ones JupyterHub's own logout deletes for one session.
    Their server's own API token (no session) keeps working. Returns how many ended.

    The tokens expire rather than go: the request running now may hold one of them. A server
    refuses the token once its cache of the hub's answer (``HubOAuth.cache_max_age``) runs out.
    """
    db = user.db
    now = orm.APIToken.now()
    tokens = (
        db.query(orm.APIToken)
        .filter(orm.APIToken.user_id == user.id, orm.APIToken.session_id.isnot(None))
        .filter(or_(orm.APIToken.expires_at.is_(None), orm.APIToken.expires_at > now))
        .all()
    )
    for token in tokens:
        # A second back: JupyterHub accepts a token until the instant it expires.
        token.expires_at = now - dt.timedelta(seconds=1)
    if tokens:
        db.commit()
    return len(tokens)


def make_refresh_user_hook(*, service: SiteClient, site_check_age: float, timeout: float = 2):
    """The ``refresh_user_hook``: asks the discovery service (``service``, the hub process's
    client of it) when the site last ended the user's login, and decides as the module says."""
    site_checked: dict[str, float] = {}
    announced: dict[str, float] = {}  # the end last logged for each user

    async def refresh_user_hook(authenticator, user, auth_state):
        try:
            answer = await service.call(
                "GET", f"/sessions/{quote(user.name, safe='')}", timeout=timeout
            )
            ended_at = answer.get("ended_at") if isinstance(answer, dict) else None
        except (SiteError, ValueError) as error:
            log.warning("could not ask the discovery service about %s: %s", user.name, error)
            ended_at = None
        if isinstance(ended_at, int | float) and ended_at > _logins.get(user.name, 0):
            ended = end_server_sessions(user)
            if announced.get(user.name) != ended_at:  # once per end, not at every request
                announced[user.name] = ended_at
                log.warning(
                    "%s's hub login ended: the site ended it (%d server sessions ended)",
                    user.name,
                    ended,
                )
            return False
        now = time.monotonic()
        if now - site_checked.get(user.name, float("-inf")) >= site_check_age:
            site_checked[user.name] = now
            return None  # oauthenticator asks the site with the user's stored token
        return True

    return refresh_user_hook
