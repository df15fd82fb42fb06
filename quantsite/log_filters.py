"""Logging filters of the site (settings.LOGGING)."""

import logging
from functools import cache
from urllib.parse import urlsplit

from django.urls import reverse


@cache
def _heartbeat_path() -> str:
    return reverse("discovery-heartbeat")


class QuietHeartbeats(logging.Filter):
    """Drops the development server's access-log line (logger ``django.server``) of each
    answered hub heartbeat: every hub sends one a second, which would bury the rest of the
    console (such as the password-reset email printed there). A heartbeat answered with an
    error (status 400 and up) is kept, and every line is kept when the site logs at DEBUG
    (``LOG_LEVEL=DEBUG``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        return not (_is_heartbeat(record) and getattr(record, "status_code", 500) < 400)


def _is_heartbeat(record: logging.LogRecord) -> bool:
    """The record is runserver's access line ('"POST /path HTTP/1.1" 200 40') of a heartbeat."""
    if not isinstance(record.args, tuple) or not record.args:
        return False
    words = str(record.args[0]).split(" ")
    return len(words) == 3 and urlsplit(words[1]).path == _heartbeat_path()
