"""While the database is unreachable every request answers 503 with Retry-After, in the shape
its caller reads: JSON on the APIs, OAuth's error on /o/, a page for people. Never a 500.

The outage is real: a site process whose database is a loopback port where nothing listens,
and (on PostgreSQL) the test database closed to connections with its backends terminated.
"""

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client

from quantsite.errors import database_unavailable
from quantsite.tests.site_process import site_process

pytestmark = pytest.mark.django_db

DOWN = {"DATABASE_URL": "postgres://postgres@127.0.0.1:9/none", "REDIS_URL": "", "DEBUG": "0"}
UNAVAILABLE = "The site's database is unavailable; try again shortly."
BEARER = {"Authorization": "Bearer some-token"}


API_REQUESTS = [
    {"path": "/api/me", "headers": BEARER},
    {"path": "/api/contents/n.ipynb", "headers": BEARER},
    {"method": "PUT", "path": "/api/contents/n.ipynb", "headers": BEARER, "body": "{}"},
    {"path": "/api/discovery/locate", "headers": BEARER},
    {"method": "POST", "path": "/api/discovery/heartbeat", "headers": BEARER},
    {"method": "POST", "path": "/api/community/shares", "headers": BEARER},
]
OAUTH_REQUESTS = [
    {
        "method": "POST",
        "path": "/o/token/",
        "content_type": "application/x-www-form-urlencoded",
        "body": "grant_type=client_credentials&client_id=a&client_secret=b",
    },
    {"path": "/o/userinfo/", "headers": BEARER},
]
PAGE_REQUESTS = [
    {"path": "/community"},
    {
        "method": "POST",
        "path": "/accounts/login/",
        "content_type": "application/x-www-form-urlencoded",
        "body": "username=ada&password=x",
    },
]


@pytest.fixture(scope="module")
def answers_while_down() -> dict[str, list[dict]]:
    """The answers of one site process whose database is down, by kind of caller (one process
    for all: each costs seconds of start-up)."""
    kinds = {"api": API_REQUESTS, "oauth": OAUTH_REQUESTS, "pages": PAGE_REQUESTS}
    answers = site_process([r for requests in kinds.values() for r in requests], **DOWN)
    by_kind, start = {}, 0
    for kind, requests in kinds.items():
        by_kind[kind] = answers[start : start + len(requests)]
        start += len(requests)
    return by_kind


def test_the_apis_answer_json_503_with_retry_after(answers_while_down):
    answers = answers_while_down["api"]

    assert [answer["path"] for answer in answers] == [r["path"] for r in API_REQUESTS]
    for answer in answers:
        assert (answer["path"], answer["status"], answer["retry_after"]) == (
            answer["path"],
            503,
            "5",
        )
        assert answer["json"] == {"detail": UNAVAILABLE}


def test_the_oauth_endpoints_answer_an_oauth_error(answers_while_down):
    token, userinfo = answers_while_down["oauth"]

    for answer in (token, userinfo):
        assert (answer["status"], answer["retry_after"]) == (503, "5")
        assert answer["json"] == {
            "error": "temporarily_unavailable",
            "error_description": UNAVAILABLE,
        }


def test_pages_answer_a_friendly_503_page(answers_while_down):
    community, login = answers_while_down["pages"]

    for answer in (community, login):
        assert (answer["status"], answer["retry_after"]) == (503, "5")
        assert answer["content_type"].startswith("text/html")
        assert "<h1>Back in a moment</h1>" in answer["text"]


def test_a_query_the_database_refuses_is_not_an_outage():
    # Only connection failures are 503s: an OperationalError about a query (a statement
    # timeout on PostgreSQL, a missing table on SQLite) stays a server error.
    query = (
        "SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)"
        if connection.vendor == "postgresql"
        else "SELECT * FROM no_such_table"
    )
    with pytest.raises(OperationalError) as refused, connection.cursor() as cursor:
        cursor.execute(query)

    assert database_unavailable(refused.value) is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_postgres_outage_answers_503_then_recovers(settings):
    """Terminate the test database's backends and refuse new ones, then let them back."""
    settings.REDIS_URL = ""
    client = Client(raise_request_exception=False)
    name = connection.settings_dict["NAME"]
    params = {
        key: value
        for key, value in connection.get_connection_params().items()
        if key in ("host", "port", "user", "password")
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            during = [
                client.get("/api/me", HTTP_AUTHORIZATION="Bearer x"),
                client.get("/api/me", HTTP_AUTHORIZATION="Bearer x"),
                client.get("/readyz"),
                client.get("/healthz"),
            ]
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    connection.close()
    after = client.get("/api/me", HTTP_AUTHORIZATION="Bearer x")

    assert [r.status_code for r in during] == [503, 503, 503, 200]
    assert during[0].json() == {"detail": UNAVAILABLE}
    assert during[0]["Retry-After"] == "5"
    assert after.status_code == 401
