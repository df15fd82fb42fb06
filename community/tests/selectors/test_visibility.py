"""Who may see what (community.selectors): hidden topics and replies are gone for every
reader, staff and authors included; a hidden topic's files stay open to staff only."""

import nbformat
import pytest
from django.contrib.auth.models import AnonymousUser

from community import selectors
from community.models import SharedNotebookVersion, Topic
from community.services import forum
from community.services.sharing import shared_notebook_clone, shared_notebook_share
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

VIEWERS = ["author", "reader", "staff", "anonymous"]


@pytest.fixture
def people(make_user):
    return {
        "author": make_user(username="ada"),
        "reader": make_user(username="bob"),
        "staff": make_user(username="mod", is_staff=True),
        "anonymous": AnonymousUser(),
    }


def share(user, path="s.ipynb", title="Momentum", capture=None) -> SharedNotebookVersion:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Momentum")])
    notebook_save(user=user, path=path, notebook=nb)
    with capture(execute=True):
        return shared_notebook_share(user=user, path=path, title=title, description="Idea")


@pytest.fixture
def version(people, django_capture_on_commit_callbacks) -> SharedNotebookVersion:
    """ada's shared notebook, rendered."""
    shared = share(people["author"], capture=django_capture_on_commit_callbacks)
    shared.refresh_from_db()
    assert shared.render_state == "ready"
    return shared


@pytest.mark.parametrize("viewer", VIEWERS)
def test_a_topic_is_visible_to_every_reader(people, viewer):
    topic = forum.topic_create(author=people["author"], title="T", body="", tags=[])

    assert selectors.topic_visible(viewer=people[viewer], topic_id=topic.pk) == topic


@pytest.mark.parametrize("viewer", VIEWERS)
def test_a_hidden_topic_is_visible_to_no_reader(people, viewer):
    topic = forum.topic_create(author=people["author"], title="T", body="", tags=[])
    forum.topics_moderate(topics=Topic.objects.all(), hidden=True)

    assert selectors.topic_visible(viewer=people[viewer], topic_id=topic.pk) is None
    assert list(selectors.topics_visible(viewer=people[viewer])) == []


@pytest.mark.parametrize("viewer", VIEWERS)
def test_a_hidden_reply_is_visible_to_no_reader(people, viewer):
    topic = forum.topic_create(author=people["author"], title="T", body="", tags=[])
    shown = forum.reply_create(topic=topic, author=people["reader"], body="Shown")
    hidden = forum.reply_create(topic=topic, author=people["reader"], body="Hidden")
    forum.replies_moderate(replies=topic.replies.filter(pk=hidden.pk), hidden=True)

    assert list(selectors.replies_visible(viewer=people[viewer], topic=topic)) == [shown]
    assert selectors.reply_visible(viewer=people[viewer], reply_id=hidden.pk) is None
    assert selectors.reply_visible(viewer=people[viewer], reply_id=shown.pk) == shown


@pytest.mark.parametrize("viewer", VIEWERS)
def test_the_replies_of_a_hidden_topic_are_visible_to_no_reader(people, viewer):
    topic = forum.topic_create(author=people["author"], title="T", body="", tags=[])
    reply = forum.reply_create(topic=topic, author=people["reader"], body="Nice")
    forum.topics_moderate(topics=Topic.objects.all(), hidden=True)

    assert selectors.reply_visible(viewer=people[viewer], reply_id=reply.pk) is None


@pytest.mark.parametrize("viewer", VIEWERS)
def test_a_shared_version_is_visible_to_every_reader(people, version, viewer):
    found = selectors.version_visible(viewer=people[viewer], version_id=version.pk)

    assert found == version


@pytest.mark.parametrize("viewer", ["author", "reader", "anonymous"])
def test_a_hidden_topics_versions_are_visible_to_no_reader(people, version, viewer):
    forum.topics_moderate(topics=Topic.objects.all(), hidden=True)

    assert selectors.version_visible(viewer=people[viewer], version_id=version.pk) is None


def test_a_hidden_topics_versions_stay_visible_to_staff(people, version):
    forum.topics_moderate(topics=Topic.objects.all(), hidden=True)

    assert selectors.version_visible(viewer=people["staff"], version_id=version.pk) == version


def test_a_version_still_rendering_is_not_served_as_rendered(people, version):
    SharedNotebookVersion.objects.update(render_state="pending")

    rendered = selectors.version_visible(
        viewer=people["staff"], version_id=version.pk, rendered=True
    )
    any_state = selectors.version_visible(viewer=people["staff"], version_id=version.pk)

    assert rendered is None
    assert any_state == version


@pytest.mark.parametrize("viewer", VIEWERS)
def test_a_hidden_topics_notebook_cannot_be_cloned_by_anyone(people, version, viewer):
    forum.topics_moderate(topics=Topic.objects.all(), hidden=True)

    found = selectors.shared_notebook_visible(viewer=people[viewer], shared_id=version.shared_id)

    assert found is None


def test_a_version_to_clone_is_the_one_asked_for_else_the_newest(
    people, version, django_capture_on_commit_callbacks
):
    second = share(people["author"], capture=django_capture_on_commit_callbacks)
    shared = selectors.shared_notebook_visible(viewer=people["reader"], shared_id=version.shared_id)

    assert selectors.shared_notebook_version(shared=shared, number=None) == second
    assert selectors.shared_notebook_version(shared=shared, number=1) == version
    assert selectors.shared_notebook_version(shared=shared, number=3) is None


@pytest.fixture
def lineage(people, version, django_capture_on_commit_callbacks) -> tuple[Topic, Topic]:
    """ada's topic, and the topic of bob's shared clone of its notebook."""
    bob = people["reader"]
    path = shared_notebook_clone(version=version, reader=bob)
    derived = share(bob, path=path, title="Bob's take", capture=django_capture_on_commit_callbacks)
    return version.shared.topic, derived.shared.topic


def test_a_topic_names_the_version_its_notebook_was_cloned_from(people, version, lineage):
    copy = lineage[1]

    assert selectors.topic_notebook(viewer=people["reader"], topic=copy, number=None).origin == (
        version
    )


def test_a_hidden_origin_is_not_named(people, lineage):
    original, copy = lineage
    Topic.objects.filter(pk=original.pk).update(hidden=True)

    assert selectors.topic_notebook(viewer=people["staff"], topic=copy, number=None).origin is None


def test_a_topic_lists_the_shared_clones_of_its_notebook(people, lineage):
    original, copy = lineage

    notebook = selectors.topic_notebook(viewer=people["reader"], topic=original, number=None)

    assert notebook.derived == [copy]


def test_a_hidden_clone_is_not_listed(people, lineage):
    original, copy = lineage
    Topic.objects.filter(pk=copy.pk).update(hidden=True)

    notebook = selectors.topic_notebook(viewer=people["staff"], topic=original, number=None)

    assert notebook.derived == []


def test_a_persons_totals_leave_out_hidden_topics(
    people, version, django_capture_on_commit_callbacks
):
    share(
        people["author"], path="t.ipynb", title="Other", capture=django_capture_on_commit_callbacks
    )
    Topic.objects.filter(shared_notebook__source_path="s.ipynb").update(clone_count=3)
    Topic.objects.filter(shared_notebook__source_path="t.ipynb").update(clone_count=4, hidden=True)

    totals = selectors.person_sharing_totals(viewer=people["staff"], person=people["author"])

    assert (totals.shared, totals.clones) == (1, 3)


def test_a_person_is_found_by_username_in_any_case_while_active(people):
    people["reader"].is_active = False
    people["reader"].save()

    assert selectors.person_get(username="ADA") == people["author"]
    assert selectors.person_get(username="bob") is None
