"""Ending a user's hub login when the site says so (in the hub process).

The discovery service records when it stopped a user because the site's heartbeat answer
listed them in ``stop`` (moved, disabled or deleted). JupyterHub asks the authenticator's
``refresh_user`` on the user's cookie-authenticated hub requests once ``auth_refresh_age``
(here: ``Quanthub.session_check_interval``, a second) has passed; oauthenticator's refresh calls
this hook first, which

- returns False (log in again) when the service ended the user's login after their last login
  on this hub: with automatic login that goes back to the site, which refuses a disabled user;
- returns None (oauthenticator checks the user's stored token with the site's userinfo) every
  ``site_check_age`` seconds, so a token the site revoked ends the login too;
- returns True (up to date) otherwise.
"""

import logging
import time
from urllib.parse import quote

import httpx

log = logging.getLogger("quanthub.sessions")

# When each user last logged in on this hub (this process): a drop before it is history.
_logins: dict[str, float] = {}


async def remember_login(authenticator, handler, authentication: dict) -> dict:
    """``post_auth_hook``: note the time of the user's login."""
    _logins[authentication["name"]] = time.time()
    return authentication


def make_refresh_user_hook(
    *, sessions_url: str, sessions_secret: str, site_check_age: float, timeout: float = 2
):
    site_checked: dict[str, float] = {}
    http = httpx.AsyncClient(timeout=timeout, headers={"Authorization": f"token {sessions_secret}"})

    async def refresh_user_hook(authenticator, user, auth_state):
        try:
            response = await http.get(f"{sessions_url}/{quote(user.name, safe='')}")
            dropped_at = response.json().get("dropped_at") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as error:
            log.warning("could not ask the discovery service about %s: %s", user.name, error)
            dropped_at = None
        if dropped_at and dropped_at > _logins.get(user.name, 0):
            log.warning("%s's login ended: the site says they must not run here", user.name)
            return False
        now = time.monotonic()
        if now - site_checked.get(user.name, float("-inf")) >= site_check_age:
            site_checked[user.name] = now
            return None  # oauthenticator asks the site with the user's stored token
        return True

    return refresh_user_hook
