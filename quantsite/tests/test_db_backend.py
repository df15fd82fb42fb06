"""The site's PostgreSQL backend (``quantsite.db.postgresql``): Django's health check only
for a connection idle longer than ``DATABASE_HEALTH_CHECK_IDLE``."""

import time

import pytest
from django.db import OperationalError, connection, connections

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def own_connection():
    """A connection of the test's own, as a site process holds one between requests."""
    wrapper = connections.create_connection("default")
    yield wrapper
    wrapper.close()


def backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid: int) -> None:
    """What a database restart does to a connection: its backend goes away."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.1)


def test_an_idle_connection_is_checked_and_replaced_before_use(own_connection, settings):
    settings.DATABASE_HEALTH_CHECK_IDLE = 0.2
    first = backend_pid(own_connection)
    terminate(first)
    time.sleep(0.3)

    own_connection.close_if_unusable_or_obsolete()  # a request starts, as Django signals it

    assert backend_pid(own_connection) != first


def test_a_connection_used_moments_ago_is_not_checked(own_connection, settings):
    settings.DATABASE_HEALTH_CHECK_IDLE = 60
    first = backend_pid(own_connection)
    terminate(first)
    own_connection.close_if_unusable_or_obsolete()

    # No SELECT 1 went first: the request that finds the connection dead fails (the site
    # answers it 503), and the end of that request replaces the connection.
    with pytest.raises(OperationalError):
        backend_pid(own_connection)
    own_connection.close_if_unusable_or_obsolete()
    assert backend_pid(own_connection) != first
