"""Discovery's gauges on /metrics (read from the database at scrape time) match the hubs,
seats and assignments there are; the hubs' heartbeats, answered by the fast path, are counted
under their URL pattern's name."""

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from quantsite.accounts.tests.factories import UserFactory
from research.services.assignment import assignment_locate
from research.services.hubs import hub_disable, hub_drain, hub_stop
from research.tests.conftest import heartbeat_age, hub_token

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"


def scrape(client) -> dict[str, dict[tuple, float]]:
    """{metric name: {sorted labels: value}} from /metrics."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


def test_the_discovery_gauges_count_hubs_seats_and_assignments(client, settings, make_hub):
    settings.METRICS_TOKEN = TOKEN
    make_hub("hub-a", capacity=10)
    hub_b = make_hub("hub-b", capacity=5)
    assignment_locate(user=UserFactory())  # hub-a (emptiest first, then by id)
    assignment_locate(user=UserFactory())  # hub-b
    hub_drain(hub=hub_b)  # its user stays
    assignment_locate(user=UserFactory())  # hub-a, the only active hub
    make_hub("hub-c", start=False)  # registered, never started: new
    heartbeat_age(make_hub("hub-d", capacity=7), 60)  # dead (DEAD_AFTER is 30 s)
    hub_disable(hub=make_hub("hub-e", capacity=3))
    hub_stop(hub=make_hub("hub-f", capacity=4))

    scraped = scrape(client)

    hubs = {labels: value for labels, value in scraped["quantsite_discovery_hubs"].items() if value}
    assert hubs == {
        (("liveness", "live"), ("mode", "active")): 1,  # hub-a
        (("liveness", "live"), ("mode", "draining")): 1,  # hub-b
        (("liveness", "new"), ("mode", "active")): 1,  # hub-c
        (("liveness", "dead"), ("mode", "active")): 1,  # hub-d
        (("liveness", "live"), ("mode", "disabled")): 1,  # hub-e
        (("liveness", "stopped"), ("mode", "active")): 1,  # hub-f
    }
    assert len(scraped["quantsite_discovery_hubs"]) == 3 * 5  # every mode and liveness, 0 or not
    assert scraped["quantsite_discovery_seats"] == {
        (("kind", "total"), ("mode", "active")): 10,  # hub-a only: the others are not live
        (("kind", "used"), ("mode", "active")): 2,
        (("kind", "total"), ("mode", "draining")): 5,
        (("kind", "used"), ("mode", "draining")): 1,
    }
    assert scraped["quantsite_discovery_assignments_open"] == {(): 3}


def test_a_hubs_heartbeat_answered_by_the_fast_path_is_counted_by_its_view_name(
    client, settings, make_hub
):
    settings.METRICS_TOKEN = TOKEN
    hub = make_hub("hub-1")
    token = hub_token(client, hub.application, make_hub.secrets["hub-1"])
    key = (("status", "2xx"), ("view", "discovery-heartbeat"))
    before = scrape(client)["quantsite_http_requests_total"].get(key, 0.0)

    response = client.post(
        "/api/discovery/heartbeat",
        data=json.dumps({"version": 1, "running": []}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 200
    assert scrape(client)["quantsite_http_requests_total"][key] - before == 1
