"""The development server's access log (logger ``django.server``, as settings.LOGGING sets it
up) leaves out the hubs' answered heartbeats. Lines are logged the way runserver logs them."""

import logging

import pytest

ACCESS_LINE = '"%s" %s %s'


@pytest.fixture
def access_log():
    """The records the configured ``django.server`` logger lets through."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("django.server")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def log_request(request_line: str, status: int, level: int = logging.INFO) -> None:
    logging.getLogger("django.server").log(
        level, ACCESS_LINE, request_line, str(status), "40", extra={"status_code": status}
    )


def test_an_answered_heartbeat_is_not_logged(access_log):
    log_request("POST /api/discovery/heartbeat HTTP/1.1", 200)

    assert access_log == []


def test_other_requests_are_logged(access_log):
    log_request("POST /api/discovery/start HTTP/1.1", 200)

    assert [record.getMessage() for record in access_log] == [
        '"POST /api/discovery/start HTTP/1.1" 200 40'
    ]


def test_a_failed_heartbeat_is_logged(access_log):
    log_request("POST /api/discovery/heartbeat HTTP/1.1", 503, logging.ERROR)

    assert [record.getMessage() for record in access_log] == [
        '"POST /api/discovery/heartbeat HTTP/1.1" 503 40'
    ]


def test_every_heartbeat_is_logged_when_the_site_logs_at_debug(access_log, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger, as LOG_LEVEL=DEBUG sets it

    log_request("POST /api/discovery/heartbeat HTTP/1.1", 200)

    assert [record.getMessage() for record in access_log] == [
        '"POST /api/discovery/heartbeat HTTP/1.1" 200 40'
    ]
