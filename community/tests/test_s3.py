"""Shared notebooks in S3: django-storages and boto3 against a real S3-compatible server
(moto's server mode) on loopback. Nothing in boto3 is patched."""

import json

import boto3
import nbformat
import pytest
from moto.server import ThreadedMotoServer

from community.models import SharedNotebookVersion
from community.tests.images import png_b64
from research.services.notebooks import notebook_save

pytestmark = pytest.mark.django_db


def test_a_share_lands_in_s3_under_content_addressed_keys(
    client, make_user, s3, django_capture_on_commit_callbacks
):
    s3_client, bucket = s3
    user = make_user(username="ada")
    client.force_login(user)
    chart = nbformat.v4.new_code_cell("plot()")
    chart.outputs = [nbformat.v4.new_output("display_data", {"image/png": png_b64()})]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# In S3"), chart])
    notebook_save(user=user, path="s.ipynb", notebook=nb)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/community/shares",
            content_type="application/json",
            data=json.dumps({"path": "s.ipynb", "title": "S3", "showcase_cell": 0}),
        )
    version = SharedNotebookVersion.objects.get()
    keys = {item["Key"] for item in s3_client.list_objects_v2(Bucket=bucket)["Contents"]}
    rendered = client.get(f"/community/renders/{version.pk}.html")
    download = client.get(f"/community/versions/{version.pk}/download")
    thumbnail = client.get(f"/community/versions/{version.pk}/thumbnail.png")

    assert response.status_code == 201
    assert keys == {version.ipynb_key, version.html_key, version.thumbnail_key}
    assert thumbnail.content.startswith(b"\x89PNG")
    assert version.ipynb_key.startswith("shared/") and version.ipynb_key.endswith(".ipynb")
    assert "In S3" in rendered.content.decode()
    assert "".join(json.loads(download.content)["cells"][0]["source"]) == "# In S3"


# Faults: the store refusing, stopped or hung --------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def s3_at(settings, endpoint: str, bucket: str = "quantsite-test") -> None:
    """The default storage: S3 at ``endpoint``, with the site's client config (timeouts and
    retries from settings, as production gets them)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "client_config": settings.AWS_S3_CLIENT_CONFIG,
                "default_acl": None,
                "file_overwrite": False,
            },
        },
    }


@pytest.fixture
def ready_version(client, make_user, media, django_capture_on_commit_callbacks, monkeypatch):
    """ada's shared, rendered notebook (files on disk), ada logged in; then the store moves."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    user = make_user(username="ada")
    client.force_login(user)
    chart = nbformat.v4.new_code_cell("plot()")
    chart.outputs = [nbformat.v4.new_output("display_data", {"image/png": png_b64()})]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Faults"), chart])
    notebook_save(user=user, path="s.ipynb", notebook=nb)
    with django_capture_on_commit_callbacks(execute=True):
        response = share(client)
    assert response.status_code == 201
    return SharedNotebookVersion.objects.get()


def share(client):
    return client.post(
        "/api/community/shares",
        content_type="application/json",
        data=json.dumps({"path": "s.ipynb", "title": "Faults", "showcase_cell": 0}),
    )


def reads(version) -> dict[str, str]:
    return {
        "render": f"/community/renders/{version.pk}.html",
        "thumbnail": f"/community/versions/{version.pk}/thumbnail.png",
        "download": f"/community/versions/{version.pk}/download",
    }


def assert_unavailable(response, *, json_body: bool) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    if json_body:
        assert response.json() == {"detail": "The file store is unavailable; try again shortly."}
    else:
        assert "Shared notebooks are unavailable" in response.content.decode()


def test_a_refused_store_is_a_503_everywhere(client, settings, ready_version):
    s3_at(settings, f"http://127.0.0.1:{_free_port()}")  # nothing listens there

    for name, url in reads(ready_version).items():
        response = client.get(url)
        assert_unavailable(response, json_body=False), name
    cloned = client.post(f"/community/shares/{ready_version.shared_id}/clone")
    reshared = share(client)

    assert_unavailable(cloned, json_body=False)
    assert_unavailable(reshared, json_body=True)
    assert SharedNotebookVersion.objects.count() == 1


def test_a_store_that_refuses_the_request_is_a_503(client, settings, ready_version, s3):
    s3_client, _bucket = s3
    s3_at(settings, s3_client.meta.endpoint_url, bucket="no-such-bucket")  # moto: NoSuchBucket

    reshared = share(client)

    assert_unavailable(reshared, json_body=True)
    assert SharedNotebookVersion.objects.count() == 1


def test_a_file_gone_from_the_store_is_a_404(client, settings, ready_version, s3):
    s3_client, bucket = s3
    s3_at(settings, s3_client.meta.endpoint_url, bucket=bucket)  # the files stayed on disk

    response = client.get(reads(ready_version)["download"])

    assert response.status_code == 404


def test_a_stopped_moto_server_is_a_503(client, settings, ready_version, monkeypatch):
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1"
    ).create_bucket(Bucket="quantsite-test")
    s3_at(settings, f"http://127.0.0.1:{port}")
    server.stop()

    assert_unavailable(client.get(reads(ready_version)["download"]), json_body=False)
    assert_unavailable(share(client), json_body=True)


def test_a_hung_store_fails_reads_fast(client, settings, ready_version, hung_port):
    import time

    s3_at(settings, f"http://127.0.0.1:{hung_port}")

    started = time.monotonic()
    response = client.get(reads(ready_version)["render"])
    took = time.monotonic() - started

    assert_unavailable(response, json_body=False)
    assert took < 6, took  # 2 attempts of a 2 s read timeout, and nothing else waits


def test_the_render_task_retries_while_the_store_fails(client, settings, ready_version):
    from celery.exceptions import Retry

    from community.tasks import shared_notebook_render

    SharedNotebookVersion.objects.update(render_state="pending")
    s3_at(settings, f"http://127.0.0.1:{_free_port()}")

    with pytest.raises(Retry):
        shared_notebook_render.apply(args=[ready_version.pk], throw=True)
    assert SharedNotebookVersion.objects.get().render_state == "pending"
