"""What JupyterLab's Share dialog starts from (``GET /api/community/shares?path=``), and a
re-share that leaves the description and the tags out keeping them."""

import datetime as dt
import json

import nbformat
import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, set_token_value

from community.models import Topic
from community.selectors import topic_tag_names
from research.services.notebooks import directory_create, notebook_save

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def save(user):
    directory_create(user=user, path="research")
    notebook_save(user=user, path="research/s.ipynb", notebook=notebook())


def notebook():
    return nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Idea"), nbformat.v4.new_code_cell("1 + 1")]
    )


def share(client, **body):
    data = {"path": "research/s.ipynb", "title": "Momentum", "showcase_cell": 0, **body}
    return client.post(
        "/api/community/shares", data=json.dumps(data), content_type="application/json"
    )


def prefill(client, path="research/s.ipynb", **extra):
    return client.get("/api/community/shares", {"path": path} if path is not None else {}, **extra)


@pytest.fixture
def shared(client, ada):
    """ada's research/s.ipynb, shared once with a description and two tags."""
    save(ada)
    response = share(client, description="Trend *following*", tags=["momentum", "daily"])
    assert response.status_code == 201
    return response.json()


def test_the_post_of_a_shared_path_prefills_the_dialog(client, shared):
    response = prefill(client)

    assert response.status_code == 200
    topic = Topic.objects.get()
    assert response.json() == {
        "id": shared["id"],
        "title": "Momentum",
        "description": "Trend *following*",
        "tags": ["daily", "momentum"],  # by name
        "url": f"/community/topics/{topic.pk}",
        "version": 1,
    }


def test_the_path_is_read_in_its_normal_form_and_the_newest_version_is_given(client, shared):
    share(client, description="Trend *following*")

    response = prefill(client, path="/research//s.ipynb")

    assert response.status_code == 200
    assert response.json()["version"] == 2


def test_a_server_token_reads_its_users_post(ada, shared):
    token = AccessToken(user=ada, scope="notebooks", expires=timezone.now() + dt.timedelta(hours=1))
    set_token_value(token, "prefill-server-token-0123456789")
    token.save()

    response = prefill(Client(), HTTP_AUTHORIZATION="Bearer prefill-server-token-0123456789")

    assert response.status_code == 200
    assert response.json()["title"] == "Momentum"


def test_no_login_no_post(shared):
    assert prefill(Client()).status_code in (401, 403)


def test_a_path_never_shared_is_404_in_json(client, shared):
    response = prefill(client, path="research/other.ipynb")

    assert response.status_code == 404
    assert response.json() == {"detail": "You have not shared a notebook from this path."}


@pytest.mark.parametrize("path", [None, "", "a" * 1025, "research/../s.ipynb"])
def test_a_missing_or_bad_path_is_400(client, shared, path):
    response = prefill(client, path=path)

    assert response.status_code == 400
    assert "detail" in response.json()


def test_another_users_share_of_the_same_path_is_not_visible(client, shared, make_user):
    bob = make_user(username="bob")
    save(bob)
    client.force_login(bob)

    assert prefill(client).status_code == 404


def test_a_hidden_topic_prefills_nothing(client, shared):
    Topic.objects.update(hidden=True)

    assert prefill(client).status_code == 404


def test_a_reshare_without_description_and_tags_keeps_them(client, shared):
    response = share(client, title="Momentum, revised")

    assert response.status_code == 201 and response.json()["version"] == 2
    topic = Topic.objects.get()
    assert topic.title == "Momentum, revised"
    assert topic.body == "Trend *following*"
    assert topic.body_html == "<p>Trend <em>following</em></p>"
    assert topic_tag_names(topic=topic) == ["daily", "momentum"]


def test_explicit_values_replace_them(client, shared):
    response = share(client, description="Mean reversion", tags=["reversion"])

    assert response.status_code == 201
    topic = Topic.objects.get()
    assert topic.body == "Mean reversion"
    assert "Mean reversion" in topic.body_html and "following" not in topic.body_html
    assert topic_tag_names(topic=topic) == ["reversion"]


def test_a_hub_one_release_behind_still_clears_them_with_empty_values(client, shared):
    # Such a hub sends both fields on every share, empty when the user typed nothing.
    share(client, description="", tags=[])

    topic = Topic.objects.get()
    assert (topic.body, topic.body_html) == ("", "")
    assert topic_tag_names(topic=topic) == []


def test_a_first_share_without_description_has_none(client, ada):
    save(ada)

    assert share(client).status_code == 201
    topic = Topic.objects.get()
    assert (topic.body, topic.body_html) == ("", "")
    assert prefill(client).json()["description"] == ""
