"""Seeding for the community benchmark: notebooks into a user's store, and a forum of many
topics whose previews were rendered by the real services. Needs Django set up (PostgreSQL)."""

import random

from community_notebooks import FLAVOURS, SENTENCES, STYLES, UNIVERSES, notebook_of

AUTHORS = 300
BATCH = 2000


def notebook_store(user, path: str, nb) -> None:
    """Save notebook ``nb`` at ``path`` in ``user``'s store, creating its folder first (one
    level) if it is absent, through the store's public services."""
    from research.services.notebooks import directory_create, notebook_save

    directory_create(user=user, path=path.rsplit("/", 1)[0])
    notebook_save(user=user, path=path, notebook=nb)


def _title(rng: random.Random) -> str:
    return f"{rng.choice(FLAVOURS)} {rng.choice(STYLES).lower()} on {rng.choice(UNIVERSES)}"


def _descriptions(rng: random.Random, count: int = 40) -> list[tuple[str, str]]:
    """``count`` topic bodies of one to three sentences: ``(markdown, its HTML)``."""
    from community.sanitize import markdown_to_html

    texts = [" ".join(rng.sample(SENTENCES, rng.randrange(1, 4))) for _ in range(count)]
    return [(text, markdown_to_html(text)) for text in texts]


def _authors(count: int) -> list:
    from quantsite.accounts.models import User

    return User.objects.bulk_create(
        [User(username=f"author{i:03}", email=f"author{i}@bench.local") for i in range(count)]
    )


def _share_templates(rng: random.Random, authors: list, descriptions: list) -> list:
    """One typical notebook per author in ``authors``, saved and shared by the real services
    and rendered inline through the real task; returns their rendered versions."""
    from community.models import SharedNotebookVersion
    from community.services.sharing import shared_notebook_share
    from quantsite.celery import app

    app.conf.task_always_eager = True  # render inline here, through the real task and service
    try:
        for i, author in enumerate(authors):
            nb, chart = notebook_of(rng, 200_000, charts=1)
            path = f"strategies/template{i}.ipynb"
            notebook_store(author, path, nb)
            shared_notebook_share(
                user=author,
                path=path,
                title=_title(rng),
                description=descriptions[i][0],
                # Most previews show a chart; some a DataFrame.
                showcase_cell=chart if i % 4 else chart + 1,
            )
    finally:
        app.conf.task_always_eager = False
    return list(
        SharedNotebookVersion.objects.filter(shared__author__in=authors, render_state="ready")
    )


def _copy_topics(
    rng: random.Random, authors: list, rendered: list, descriptions: list, count: int
) -> None:
    """``count`` topics, each with a shared notebook whose one version copies the rendered
    fields of one of ``rendered``; clone counts long-tailed. In bulk, ``BATCH`` at a time."""
    from community.models import SharedNotebook, SharedNotebookVersion, Topic

    copied = [
        field
        for field in SharedNotebookVersion._meta.concrete_fields
        if not field.is_relation and field.name not in ("id", "number", "created")
    ]
    for start in range(0, count, BATCH):
        shared = SharedNotebook.objects.bulk_create(
            [
                SharedNotebook(
                    author=authors[n % len(authors)], source_path=f"strategies/s{n:05}.ipynb"
                )
                for n in range(start, min(count, start + BATCH))
            ]
        )
        versions = []
        for notebook in shared:
            model = rng.choice(rendered)
            values = {field.attname: getattr(model, field.attname) for field in copied}
            versions.append(SharedNotebookVersion(shared=notebook, number=1, **values))
        SharedNotebookVersion.objects.bulk_create(versions)
        topics = []
        for notebook in shared:
            body, body_html = rng.choice(descriptions)
            topics.append(
                Topic(
                    author=notebook.author,
                    title=_title(rng),
                    body=body,
                    body_html=body_html,
                    shared_notebook=notebook,
                    clone_count=min(5000, int(rng.paretovariate(1.0)) - 1),
                )
            )
        Topic.objects.bulk_create(topics)


def _likes(rng: random.Random, authors: list) -> None:
    """Likes from ``authors`` on every topic, long-tailed, and the topics' like counters."""
    from django.db import connection

    from community.models import Like, Topic

    likers = [author.pk for author in authors]
    likes = []
    for topic_id in Topic.objects.values_list("pk", flat=True):
        count = min(len(likers), int(rng.paretovariate(1.2)) - 1)
        likes.extend(Like(topic_id=topic_id, user_id=u) for u in rng.sample(likers, count))
    Like.objects.bulk_create(likes, batch_size=10_000)
    with connection.cursor() as cursor:
        # The like counters the site keeps with each like (forum.like_toggle), in one go here.
        cursor.execute(
            "UPDATE community_topic t SET like_count = l.n FROM (SELECT topic_id, count(*) n "
            "FROM community_like GROUP BY topic_id) l WHERE l.topic_id = t.id"
        )


def _age_and_vacuum() -> None:
    """Spread the topics over 400 days, then VACUUM ANALYZE.

    A forum in service has been vacuumed by autovacuum; a table just bulk-loaded and rewritten
    has not (no visibility map: index-only scans would visit every row)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE community_topic SET created = now() - random() * interval '400 days'"
        )
        cursor.execute("UPDATE community_topic SET updated = created")
    with connection.cursor() as cursor:  # autocommit: VACUUM runs outside a transaction
        cursor.execute("VACUUM ANALYZE")


def seed_forum(total: int, templates: int = 8) -> None:
    """Topics up to ``total``: ``templates`` notebooks shared and rendered by the real services
    (inline here), the rest bulk copies of their rendered fields, under 300 authors; likes and
    clone counts long-tailed; topics spread over 400 days. The same forum every time."""
    from community.models import Like, Topic

    rng = random.Random(20261122)
    authors = _authors(AUTHORS)
    descriptions = _descriptions(rng)
    rendered = _share_templates(rng, authors[:templates], descriptions)
    _copy_topics(rng, authors, rendered, descriptions, total - Topic.objects.count())
    _likes(rng, authors)
    _age_and_vacuum()
    print(
        f"  {Topic.objects.count():,} topics, {Like.objects.count():,} likes, "
        f"{len(rendered)} previews rendered by the service and copied",
        flush=True,
    )
