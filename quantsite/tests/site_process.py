"""Requests answered by a separate site process with its own environment (a database that is
down or frozen), so the test's own database stays untouched."""

import json
import os
import subprocess
import sys

from django.conf import settings

_SCRIPT = """
import django, json, sys, time
django.setup()
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
for request in json.loads(sys.argv[1]):
    start = time.monotonic()
    r = client.generic(
        request.get("method", "GET"), request["path"], data=request.get("body", ""),
        content_type=request.get("content_type", "application/json"),
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in request.get("headers", {}).items()},
    )
    print(json.dumps({
        "path": request["path"], "status": r.status_code, "seconds": time.monotonic() - start,
        "content_type": r.get("Content-Type", ""), "retry_after": r.get("Retry-After"),
        "text": r.content.decode("utf-8", "replace"),
    }))
"""


def site_process(requests: list[dict | str], **env: str) -> list[dict]:
    """Each request (a path, or ``{"method", "path", "body", "headers"}``) answered in one fresh
    site process run with ``env``; per answer its status, headers of interest, text, the JSON
    body when there is one (``"json"``), and how long it took."""
    requests = [{"path": r} if isinstance(r, str) else r for r in requests]
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(requests)],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "quantsite.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.strip().splitlines()[-len(requests) :]]
    for answer in answers:
        if answer["content_type"].startswith("application/json"):
            answer["json"] = json.loads(answer["text"])
    return answers
