"""Moderation in the admin goes through the forum's services, as the forum's pages do."""

import nbformat
import pytest

from community.models import Clone, Reply, SharedNotebook, SharedNotebookVersion, Topic
from community.services import forum
from community.services.sharing import shared_notebook_clone, shared_notebook_share
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def root(client, make_user):
    """A superuser, logged in on the test client."""
    user = make_user(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def shared_topic(user, path: str, capture) -> Topic:
    """A topic of ``user``'s shared notebook at ``path``, cloned once by its author."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Momentum")])
    notebook_save(user=user, path=path, notebook=nb)
    with capture(execute=True):
        version = shared_notebook_share(user=user, path=path, title=path, description="")
    shared_notebook_clone(version=version, reader=user)
    return version.shared.topic


def remains(topic: Topic) -> dict[str, int]:
    """What is left of ``topic`` and of its shared notebook."""
    shared = topic.shared_notebook_id
    return {
        "topics": Topic.objects.filter(pk=topic.pk).count(),
        "notebooks": SharedNotebook.objects.filter(pk=shared).count(),
        "versions": SharedNotebookVersion.objects.filter(shared_id=shared).count(),
        "clones": Clone.objects.filter(version__shared_id=shared).count(),
    }


def test_deleting_a_topic_in_the_admin_does_what_the_forums_delete_does(
    client, make_user, root, django_capture_on_commit_callbacks
):
    ada = make_user(username="ada")
    in_forum = shared_topic(ada, "forum.ipynb", django_capture_on_commit_callbacks)
    in_admin = shared_topic(ada, "admin.ipynb", django_capture_on_commit_callbacks)

    forum.topic_delete(topic=in_forum, editor=root)
    response = client.post(f"/admin/community/topic/{in_admin.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    gone = {"topics": 0, "notebooks": 0, "versions": 0, "clones": 0}
    assert remains(in_forum) == gone
    assert remains(in_admin) == gone


def test_the_admins_bulk_delete_takes_each_topics_notebook_with_it(
    client, make_user, root, django_capture_on_commit_callbacks
):
    ada = make_user(username="ada")
    shared = shared_topic(ada, "s.ipynb", django_capture_on_commit_callbacks)
    plain = forum.topic_create(author=ada, title="Talk", body="", tags=[])

    response = client.post(
        "/admin/community/topic/",
        {"action": "delete_selected", "_selected_action": [shared.pk, plain.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert (Topic.objects.count(), SharedNotebook.objects.count()) == (0, 0)


def test_the_admins_delete_page_lists_the_shared_notebook(
    client, make_user, root, django_capture_on_commit_callbacks
):
    topic = shared_topic(make_user(username="ada"), "s.ipynb", django_capture_on_commit_callbacks)

    page = client.get(f"/admin/community/topic/{topic.pk}/delete/").content.decode()

    assert "<li>Shared notebooks: 1</li>" in page
    assert "<li>Shared notebook versions: 1</li>" in page


def test_hiding_and_locking_in_the_admin(client, make_user, root):
    topic = forum.topic_create(author=make_user(username="ada"), title="T", body="", tags=[])

    for action in ["hide", "lock"]:
        client.post("/admin/community/topic/", {"action": action, "_selected_action": [topic.pk]})
    topic.refresh_from_db()

    assert (topic.hidden, topic.locked) == (True, True)


def test_hiding_a_reply_in_the_admin(client, make_user, root):
    ada = make_user(username="ada")
    topic = forum.topic_create(author=ada, title="T", body="", tags=[])
    reply = forum.reply_create(topic=topic, author=ada, body="Nice")

    client.post("/admin/community/reply/", {"action": "hide", "_selected_action": [reply.pk]})

    assert Reply.objects.get(pk=reply.pk).hidden is True
