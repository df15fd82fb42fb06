"""How hubs authenticate to the discovery API (a DRF authentication class)."""

import dataclasses

from oauth2_provider.contrib.rest_framework import OAuth2Authentication

from quantsite.authentication import bearer_token


@dataclasses.dataclass(frozen=True)
class HubCredential:
    """The bearer token a hub sent, not judged yet (``request.auth`` on the hub API)."""

    raw: str


class HubTokenAuthentication(OAuth2Authentication):
    """A hub's discovery credential, taken as sent: the view judges it with the hub it speaks
    for (``research.selectors.discovery.hub_for_credential``, one query), and the heartbeat in
    the very statement that records the beat (``research.services.hubs.hub_heartbeat``), so
    the site's most frequent request makes one round trip.

    The views answer as an authentication class would: 401 for an unknown, expired or disabled
    application's token (with ``WWW-Authenticate``), 403 for a token that is not a hub's.
    """

    def authenticate(self, request):
        raw = bearer_token(request)
        return None if raw is None else (None, HubCredential(raw))
