import base64
import datetime as dt

import pytest
from django.utils import timezone

from quantsite.accounts.tests.factories import UserFactory
from research.models import DiscoveryClock, Hub
from research.services.hubs import hub_register, hub_start


class Hubs:
    """Hubs made through the real services: registered, then started (live)."""

    def __init__(self):
        self.secrets: dict[str, str] = {}

    def __call__(self, name: str, capacity: int = 10, start: bool = True) -> Hub:
        url = f"http://127.0.0.1:{8100 + len(self.secrets)}"
        registration = hub_register(name=name, url=url, capacity=capacity)
        self.secrets[name] = registration.client_secret
        hub = registration.hub
        if start:
            hub = hub_start(hub=hub, url=url, version="test")
        return hub


@pytest.fixture
def make_hub() -> Hubs:
    return Hubs()


@pytest.fixture
def make_user():
    return UserFactory


def heartbeat_age(hub: Hub, seconds: float) -> Hub:
    """Pretend the hub's last heartbeat was ``seconds`` ago, while the site kept hearing
    heartbeats all along (the discovery clock listening since at least then)."""
    now = timezone.now()
    then = now - dt.timedelta(seconds=seconds)
    Hub.objects.filter(pk=hub.pk).update(last_heartbeat_at=then)
    DiscoveryClock.objects.update_or_create(
        pk=1, defaults={"heard_at": now, "listening_since": then}
    )
    hub.refresh_from_db()
    return hub


def hub_token(client, application, secret: str, scope: str = "discovery") -> str:
    """A token from the real client-credentials grant of ``application`` (a hub's, usually)."""
    basic = base64.b64encode(f"{application.client_id}:{secret}".encode()).decode()
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]
