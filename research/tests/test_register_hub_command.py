import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from research.models import Hub

pytestmark = pytest.mark.django_db


def register(*args) -> dict:
    out = StringIO()
    call_command("register_hub", *args, stdout=out)
    return json.loads(out.getvalue())


def test_register_prints_what_the_hub_needs(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"

    printed = register("hub-1", "--url", "http://127.0.0.1:8101", "--capacity", "40")

    hub = Hub.objects.get(name="hub-1")
    assert set(printed) == {
        "name",
        "url",
        "capacity",
        "client_id",
        "client_secret",
        "authorize_url",
        "token_url",
        "userdata_url",
        "discovery_url",
    }
    assert printed["name"] == "hub-1"
    assert printed["url"] == "http://127.0.0.1:8101"
    assert printed["capacity"] == 40
    assert printed["client_id"] == hub.application.client_id
    assert len(printed["client_secret"]) >= 40
    assert printed["authorize_url"] == "http://127.0.0.1:8000/o/authorize/"
    assert printed["token_url"] == "http://127.0.0.1:8000/o/token/"
    assert printed["userdata_url"] == "http://127.0.0.1:8000/o/userinfo/"
    assert printed["discovery_url"] == "http://127.0.0.1:8000/api/discovery/"


def test_register_again_prints_no_secret_unless_rotated():
    first = register("hub-1", "--url", "http://127.0.0.1:8101")

    again = register("hub-1", "--url", "http://127.0.0.1:8101")
    rotated = register("hub-1", "--url", "http://127.0.0.1:8101", "--rotate-secret")

    assert again["client_secret"] is None
    assert again["client_id"] == first["client_id"]
    assert rotated["client_secret"] not in (None, first["client_secret"])


def test_register_with_a_bad_url_fails_clearly():
    with pytest.raises(CommandError, match=r"http\(s\) URL"):
        register("hub-1", "--url", "not a url")
