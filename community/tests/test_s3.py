"""Shared notebooks in S3: django-storages and boto3 against a real S3-compatible server
(moto's server mode) on loopback. Nothing in boto3 is patched."""

import json

import boto3
import nbformat
import pytest
from moto.server import ThreadedMotoServer

from community.models import SharedNotebookVersion
from community.tests.images import png_b64
from research.services.contents import content_save

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def s3_endpoint():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(settings, s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = "quantsite-test"
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "addressing_style": "path",
                "signature_version": "s3v4",
                "default_acl": None,
                "file_overwrite": False,
            },
        },
    }
    yield client, bucket
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


def test_a_share_lands_in_s3_under_content_addressed_keys(
    client, make_user, s3, django_capture_on_commit_callbacks
):
    s3_client, bucket = s3
    user = make_user(username="ada")
    client.force_login(user)
    chart = nbformat.v4.new_code_cell("plot()")
    chart.outputs = [nbformat.v4.new_output("display_data", {"image/png": png_b64()})]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# In S3"), chart])
    content_save(user=user, path="s.ipynb", model={"type": "notebook", "content": nb})

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
