"""/research: the user's JupyterLab on their hub, framed; a clear page when there is none."""

import pytest

from community.tests.policies import directives
from research.models import Assignment
from research.tests.conftest import heartbeat_age

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, make_user):
    user = make_user(username="ada")
    client.force_login(user)
    return user


def test_research_frames_jupyterlab_on_the_users_hub(client, logged_in, make_hub):
    make_hub("hub-1")

    response = client.get("/research")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'src="http://127.0.0.1:8100/hub/user-redirect/lab"' in html
    assert 'data-hub="hub-1"' in html
    assert directives(response.headers["Content-Security-Policy"])["frame-src"] == (
        "'self' http://127.0.0.1:8100"
    )
    assert response.headers["X-Frame-Options"] == "DENY"
    assert Assignment.objects.get(user=logged_in).hub.name == "hub-1"


def test_research_opens_a_path(client, logged_in, make_hub):
    make_hub("hub-1")

    response = client.get("/research", {"path": "cloned/My Notebook (1).ipynb"})

    assert (
        'src="http://127.0.0.1:8100/hub/user-redirect/lab/tree/cloned/My%20Notebook%20%281%29.ipynb"'
        in response.content.decode()
    )


@pytest.mark.parametrize(
    "path", ["../other-user/secret.ipynb", "/etc/passwd", "a/./b", "a\x01b", "x" * 1025]
)
def test_research_refuses_a_bad_path(client, logged_in, make_hub, path):
    make_hub("hub-1")

    response = client.get("/research", {"path": path})

    assert response.status_code == 400
    assert "cannot be opened" in response.content.decode()


def test_no_hub_gives_a_page_that_retries(client, logged_in):
    response = client.get("/research")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    html = response.content.decode()
    assert '<meta http-equiv="refresh" content="5">' in html
    assert "tries again by itself" in html


def test_a_dead_hub_sends_the_user_to_a_live_one(client, logged_in, make_hub):
    dead = make_hub("hub-1")
    client.get("/research")
    make_hub("hub-2")
    heartbeat_age(dead, 60)

    response = client.get("/research")

    assert 'data-hub="hub-2"' in response.content.decode()


def test_research_requires_login(client):
    response = client.get("/research")

    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login/?next=/research"


def test_research_is_served_while_redis_is_down(client, logged_in, make_hub, settings):
    # Routing reads only PostgreSQL: a dead broker (nothing on port 9) changes nothing.
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    make_hub("hub-1")

    response = client.get("/research")

    assert response.status_code == 200
    assert 'data-hub="hub-1"' in response.content.decode()


def test_other_pages_cannot_be_framed(client):
    response = client.get("/")

    assert directives(response.headers["Content-Security-Policy"])["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_navigation_bar_links_research(client, logged_in):
    html = client.get("/").content.decode()

    assert '<a href="/research"' in html
