"""Topic counters (likes, clones) kept on the topic so the forum sorts by an index, and
full-text search on PostgreSQL from a column a trigger keeps, with a GIN index."""

import django.contrib.postgres.search
from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

SEARCH_SQL = """
CREATE FUNCTION community_topic_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('pg_catalog.english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('pg_catalog.english', coalesce(NEW.body, '')), 'B');
    RETURN NEW;
END
$$;
CREATE TRIGGER community_topic_search BEFORE INSERT OR UPDATE OF title, body
    ON community_topic FOR EACH ROW EXECUTE FUNCTION community_topic_search_update();
UPDATE community_topic SET title = title;
CREATE INDEX community_topic_search ON community_topic USING gin (search_vector);
"""
SEARCH_DROP_SQL = """
DROP INDEX IF EXISTS community_topic_search;
DROP TRIGGER IF EXISTS community_topic_search ON community_topic;
DROP FUNCTION IF EXISTS community_topic_search_update();
"""


def counters_fill(apps, schema_editor):
    Topic = apps.get_model("community", "Topic")
    Like = apps.get_model("community", "Like")
    SharedNotebook = apps.get_model("community", "SharedNotebook")
    likes = Like.objects.filter(topic=OuterRef("pk")).values("topic").annotate(n=Count("pk"))
    clones = SharedNotebook.objects.filter(pk=OuterRef("shared_notebook_id")).values("clone_count")
    Topic.objects.update(
        like_count=Coalesce(Subquery(likes.values("n")), 0),
        clone_count=Coalesce(Subquery(clones), 0),
    )


def counters_back(apps, schema_editor):
    Topic = apps.get_model("community", "Topic")
    SharedNotebook = apps.get_model("community", "SharedNotebook")
    for shared_id, clones in Topic.objects.filter(shared_notebook__isnull=False).values_list(
        "shared_notebook_id", "clone_count"
    ):
        SharedNotebook.objects.filter(pk=shared_id).update(clone_count=clones)


def search_on(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEARCH_SQL)


def search_off(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEARCH_DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("community", "0003_tags_thumbnails_lineage_edits"),
    ]

    operations = [
        migrations.AddField(
            model_name="topic",
            name="clone_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="topic",
            name="like_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(counters_fill, counters_back),
        migrations.RemoveField(
            model_name="sharednotebook",
            name="clone_count",
        ),
        migrations.AddField(
            model_name="topic",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(search_on, search_off),
        migrations.RemoveIndex(
            model_name="topic",
            name="community_topic_latest",
        ),
        migrations.AddIndex(
            model_name="topic",
            index=models.Index(
                condition=models.Q(("hidden", False)),
                fields=["-created", "-id"],
                name="community_topic_latest",
            ),
        ),
        migrations.AddIndex(
            model_name="topic",
            index=models.Index(
                condition=models.Q(("hidden", False)),
                fields=["-like_count", "-created", "-id"],
                name="community_topic_liked",
            ),
        ),
        migrations.AddIndex(
            model_name="topic",
            index=models.Index(
                condition=models.Q(("hidden", False)),
                fields=["-clone_count", "-created", "-id"],
                name="community_topic_cloned",
            ),
        ),
    ]
