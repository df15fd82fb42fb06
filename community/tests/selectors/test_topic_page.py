"""A page of topics (selectors.topic_page): filters, sorts, pages, and what each card shows."""

import datetime as dt

import nbformat
import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from community import selectors
from community.models import SharedNotebookVersion, Topic
from community.services import forum
from community.services.sharing import shared_notebook_share
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]
READER = AnonymousUser()


@pytest.fixture
def ada(make_user):
    return make_user(username="ada")


def topic(author, title, *, body="", tags=(), likes=0, days_ago=0) -> Topic:
    made = forum.topic_create(author=author, title=title, body=body, tags=list(tags))
    Topic.objects.filter(pk=made.pk).update(
        like_count=likes, created=timezone.now() - dt.timedelta(days=days_ago)
    )
    return made


def titles(page: selectors.TopicPage) -> list[str]:
    return [listing.topic.title for listing in page.listings]


def test_the_latest_come_first_and_hidden_topics_are_left_out(ada):
    topic(ada, "Old", days_ago=2)
    topic(ada, "New", days_ago=0)
    topic(ada, "Hidden", days_ago=1)
    Topic.objects.filter(title="Hidden").update(hidden=True)

    assert titles(selectors.topic_page(viewer=READER)) == ["New", "Old"]


def test_most_liked_first(ada):
    topic(ada, "Liked once", likes=1, days_ago=0)
    topic(ada, "Liked most", likes=5, days_ago=1)

    assert titles(selectors.topic_page(viewer=READER, sort="liked")) == [
        "Liked most",
        "Liked once",
    ]


def test_a_tag_keeps_only_its_topics_and_cards_list_tags_sorted(ada):
    topic(ada, "Rates", tags=["rates", "daily"])
    topic(ada, "Other", tags=["fx"])

    page = selectors.topic_page(viewer=READER, tag="rates")

    assert titles(page) == ["Rates"]
    assert page.listings[0].tag_names == ["daily", "rates"]


def test_a_search_matches_the_body(ada):
    topic(ada, "Momentum", body="Why the idea works")
    topic(ada, "Carry", body="Something else")

    assert titles(selectors.topic_page(viewer=READER, query="idea")) == ["Momentum"]


def test_one_persons_topics(ada, make_user):
    topic(ada, "Ada's")
    topic(make_user(username="bob"), "Bob's")

    assert titles(selectors.topic_page(viewer=READER, author=ada)) == ["Ada's"]


def test_fifty_a_page_and_past_the_end_is_the_last_page(ada):
    for i in range(51):
        topic(ada, f"T{i}", days_ago=i)

    first = selectors.topic_page(viewer=READER)
    past_the_end = selectors.topic_page(viewer=READER, page_number="9")
    not_a_number = selectors.topic_page(viewer=READER, page_number="x")

    assert (len(first.listings), first.page.paginator.num_pages) == (50, 2)
    assert titles(past_the_end) == ["T50"]
    assert titles(not_a_number) == titles(first)


def test_a_card_previews_the_newest_ready_version(ada, django_capture_on_commit_callbacks):
    for text in ["first", "second", "third"]:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {text}")])
        notebook_save(user=ada, path="s.ipynb", notebook=nb)
        with django_capture_on_commit_callbacks(execute=text != "third"):
            shared_notebook_share(user=ada, path="s.ipynb", title="M", description="")

    preview = selectors.topic_page(viewer=READER).listings[0].preview

    assert SharedNotebookVersion.objects.get(number=3).render_state == "pending"
    assert preview.number == 2
    assert "second" in preview.preview_html


def test_a_topic_without_a_notebook_has_no_preview(ada):
    topic(ada, "Talk")

    assert selectors.topic_page(viewer=READER).listings[0].preview is None
