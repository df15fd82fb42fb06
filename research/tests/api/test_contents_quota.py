"""The storage quota through /api/contents: a 413 with the sizes, and the stored data intact."""

import base64
import json

import pytest

from research.models import ContentCheckpoint, ContentEntry, ContentUploadChunk

pytestmark = pytest.mark.django_db

FULL = (
    "Not enough storage space: this needs {needed} bytes more, and you use {used} bytes of "
    "your 1,000 bytes. Delete files or checkpoints to make room."
)


def put(client, path, body):
    return client.put(f"/api/contents/{path}", json.dumps(body), content_type="application/json")


def text(content: str, **extra) -> dict:
    return {"type": "file", "format": "text", "content": content, **extra}


def chunk(data: bytes, number: int) -> dict:
    content = base64.b64encode(data).decode()
    return {"type": "file", "format": "base64", "content": content, "chunk": number}


@pytest.fixture
def ada(client, make_user, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 1000
    client.force_login(make_user(username="ada"))
    return client


def test_a_save_past_the_quota_is_a_413_and_the_file_keeps_its_version(ada):
    put(ada, "a.txt", text("a" * 600))

    refused = put(ada, "a.txt", text("b" * 1001))
    got = ada.get("/api/contents/a.txt")

    assert refused.status_code == 413
    assert refused.json() == {"detail": FULL.format(needed=401, used=600)}
    assert got.json()["content"] == "a" * 600


def test_an_overwrite_within_the_quota_counts_the_difference(ada):
    put(ada, "a.txt", text("a" * 600))

    saved = put(ada, "a.txt", text("b" * 1000))

    assert saved.status_code == 200
    assert ada.get("/api/contents/a.txt").json()["content"] == "b" * 1000


def test_a_chunked_upload_is_refused_at_the_crossing_chunk(ada):
    first = put(ada, "big.bin", chunk(b"1" * 400, 1))
    second = put(ada, "big.bin", chunk(b"2" * 400, 2))

    last = put(ada, "big.bin", chunk(b"3" * 400, -1))
    got = ada.get("/api/contents/big.bin", {"format": "base64"})

    assert (first.status_code, second.status_code, last.status_code) == (201, 200, 413)
    assert last.json()["detail"] == FULL.format(needed=400, used=800)
    assert base64.b64decode(got.json()["content"]) == b"1" * 400
    assert list(ContentUploadChunk.objects.values_list("size", flat=True)) == [400]


def test_a_copy_past_the_quota_is_a_413_and_creates_nothing(ada):
    put(ada, "a.txt", text("a" * 600))

    copy = ada.post("/api/contents", json.dumps({"copy_from": "a.txt"}), "application/json")

    assert copy.status_code == 413
    assert copy.json()["detail"] == FULL.format(needed=600, used=600)
    assert list(ContentEntry.objects.values_list("path", flat=True)) == ["a.txt"]


def test_a_new_notebook_past_the_quota_is_a_413(ada):
    put(ada, "a.txt", text("a" * 990))

    made = ada.post("/api/contents", json.dumps({"type": "notebook"}), "application/json")

    assert made.status_code == 413
    assert made.json()["detail"].startswith("Not enough storage space: this needs ")
    assert list(ContentEntry.objects.values_list("path", flat=True)) == ["a.txt"]


def test_a_checkpoint_past_the_quota_is_a_413_and_the_checkpoints_stay(ada):
    put(ada, "a.txt", text("a" * 400))
    made = ada.post("/api/contents/a.txt/checkpoints")
    put(ada, "b.txt", text("b" * 100))

    refused = ada.post("/api/contents/a.txt/checkpoints")
    listing = ada.get("/api/contents/a.txt/checkpoints")

    assert (made.status_code, refused.status_code) == (201, 413)
    assert refused.json()["detail"] == FULL.format(needed=400, used=900)
    assert [c["id"] for c in listing.json()] == [made.json()["id"]]
    assert ContentCheckpoint.objects.count() == 1
