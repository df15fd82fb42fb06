"""A share while the broker (Redis) is down: stored once, answered 201, rendered by the sweep.
The broker is a real refused connection (a closed loopback port), not a patched client."""

import datetime as dt
import json
import socket
import time

import nbformat
import pytest
from django.utils import timezone

from community.models import SharedNotebookVersion
from community.tasks import shared_notebook_render_sweep
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.usefixtures("media")]


def _reset_pools(app) -> None:
    # The app keeps its broker connections in pools made from the settings of their day: new
    # ones are made from the settings now (the old ones are dropped, not closed: a producer
    # may still hold one).
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(params=["refused", "hung"])
def broker_down(request):
    """Celery publishing to ``redis://`` at a loopback port nothing listens on (refused), or
    where a server accepts and never answers (hung); yields a function that brings the broker
    back (tasks inline again, as in the other tests)."""
    from quantsite.celery import app

    if request.param == "hung":
        port = request.getfixturevalue("hung_port")
    else:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    saved = app.conf.broker_url, app.conf.task_always_eager

    def back_up():
        _reset_pools(app)
        app.conf.broker_url, app.conf.task_always_eager = saved

    _reset_pools(app)
    app.conf.broker_url, app.conf.task_always_eager = f"redis://127.0.0.1:{port}/0", False
    yield back_up
    back_up()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("broker_down")
def test_a_share_while_the_broker_is_down_is_stored_once_and_answers_201(client, ada):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Outage")])
    notebook_save(user=ada, path="s.ipynb", notebook=nb)

    started = time.monotonic()
    response = client.post(
        "/api/community/shares",
        content_type="application/json",
        data=json.dumps({"path": "s.ipynb", "title": "Outage"}),
    )
    took = time.monotonic() - started

    assert response.status_code == 201
    assert response.json()["version"] == 1
    assert took < 5, took  # the publish gave up quickly
    assert list(SharedNotebookVersion.objects.values_list("number", "render_state")) == [
        (1, "pending")
    ]


@pytest.mark.django_db(transaction=True)
def test_the_sweep_renders_what_the_outage_left_pending(client, ada, broker_down):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Outage")])
    notebook_save(user=ada, path="s.ipynb", notebook=nb)
    client.post(
        "/api/community/shares",
        content_type="application/json",
        data=json.dumps({"path": "s.ipynb", "title": "Outage"}),
    )
    SharedNotebookVersion.objects.update(created=timezone.now() - dt.timedelta(minutes=2))
    broker_down()  # the broker is back

    shared_notebook_render_sweep()

    assert SharedNotebookVersion.objects.get().render_state == "ready"
