"""Each moderation action in the admin says what it did, with counts, and the replies of a
topic's page are hidden and deleted through the forum's services."""

import pytest

from community.models import Reply, Topic
from community.services import forum

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client, make_user):
    user = make_user(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def ada(make_user):
    return make_user(username="ada")


def topics(author, n: int, **flags) -> list[Topic]:
    made = [forum.topic_create(author=author, title=f"T{i}", body="", tags=[]) for i in range(n)]
    if flags:
        Topic.objects.filter(pk__in=[t.pk for t in made]).update(**flags)
    return made


def act(client, model: str, action: str, objects) -> list[str]:
    response = client.post(
        f"/admin/community/{model}/",
        {"action": action, "_selected_action": [o.pk for o in objects]},
        follow=True,
    )
    assert response.status_code == 200
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


@pytest.mark.parametrize(
    ("action", "before", "message", "after"),
    [
        ("hide", {}, ("success", "Hid 3 topics."), {"hidden": True}),
        ("unhide", {"hidden": True}, ("success", "Showed 3 topics again."), {"hidden": False}),
        ("lock", {}, ("success", "Locked 3 topics."), {"locked": True}),
        ("unlock", {"locked": True}, ("success", "Unlocked 3 topics."), {"locked": False}),
        ("hide", {"hidden": True}, ("warning", "Nothing to change: 3 topics already hidden."), {}),
        ("unlock", {}, ("warning", "Nothing to change: 3 topics already unlocked."), {}),
    ],
)
def test_each_topic_action_says_what_it_did(client, root, ada, action, before, message, after):
    selected = topics(ada, 3, **before)

    said = act(client, "topic", action, selected)

    assert said == [message]
    for name, value in after.items():
        assert list(Topic.objects.values_list(name, flat=True)) == [value] * 3


def test_posts_already_so_are_counted_apart(client, root, ada):
    selected = topics(ada, 1) + topics(ada, 2, hidden=True)

    said = act(client, "topic", "hide", selected)

    assert said == [("success", "Hid 1 topic. 2 were already hidden.")]


def test_each_reply_action_says_what_it_did(client, root, ada):
    (topic,) = topics(ada, 1)
    replies = [forum.reply_create(topic=topic, author=ada, body=f"r{i}") for i in range(2)]

    hid = act(client, "reply", "hide", replies)
    showed = act(client, "reply", "unhide", replies[:1])
    again = act(client, "reply", "unhide", replies[:1])

    assert hid == [("success", "Hid 2 replies.")]
    assert showed == [("success", "Showed 1 reply again.")]
    assert again == [("warning", "Nothing to change: 1 reply already shown.")]
    assert [r.hidden for r in Reply.objects.order_by("pk")] == [False, True]


def test_bulk_delete_says_how_many_went(client, root, ada):
    (topic,) = topics(ada, 1)
    replies = [forum.reply_create(topic=topic, author=ada, body=f"r{i}") for i in range(3)]

    response = client.post(
        "/admin/community/reply/",
        {"action": "delete_selected", "_selected_action": [r.pk for r in replies], "post": "yes"},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == ["Successfully deleted 3 replies."]
    assert not Reply.objects.exists()


def topic_page_data(client, topic: Topic) -> tuple[dict, str]:
    """What the topic's admin page posts back unchanged (its form and its replies' formset),
    and the formset's prefix."""
    response = client.get(f"/admin/community/topic/{topic.pk}/change/")
    form = response.context["adminform"].form
    data = {name: form[name].initial for name in form.fields}
    data = {name: value for name, value in data.items() if value not in (None, False)}
    data["tags"] = []
    (formset,) = response.context["inline_admin_formsets"]
    management = formset.formset.management_form
    prefix = formset.formset.prefix
    for name in management.fields:
        data[f"{prefix}-{name}"] = management[name].value()
    for i, form in enumerate(formset.formset.forms):
        data[f"{prefix}-{i}-id"] = form.instance.pk
        data[f"{prefix}-{i}-topic"] = topic.pk
        if form.instance.hidden:
            data[f"{prefix}-{i}-hidden"] = "on"
    return data, prefix


def test_the_topic_page_hides_and_deletes_replies(client, root, ada):
    (topic,) = topics(ada, 1)
    keep, hide, delete = (forum.reply_create(topic=topic, author=ada, body=b) for b in "khd")
    data, prefix = topic_page_data(client, topic)
    data[f"{prefix}-1-hidden"] = "on"
    data[f"{prefix}-2-DELETE"] = "on"

    response = client.post(f"/admin/community/topic/{topic.pk}/change/", data)

    assert response.status_code == 302
    assert [(r.pk, r.hidden) for r in Reply.objects.order_by("pk")] == [
        (keep.pk, False),
        (hide.pk, True),
    ]
    assert not Reply.objects.filter(pk=delete.pk).exists()
