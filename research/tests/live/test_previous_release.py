"""A rolling release: the site goes first, and hubs one release behind keep working with it
until they are released in turn. A real hub runs the previous release's quanthub (its commit is
in quanthub/PREVIOUS_RELEASE, taken from this checkout's history) against this site: its users
log in, their server reads and saves notebooks on the site, its heartbeats count, and a share
made the old way (description and tags always sent) still goes through."""

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from community.models import Topic
from research.models import Assignment, Hub
from research.selectors.notebooks import notebook_read
from research.tests.live.conftest import hub_registered, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def previous_quanthub(tmp_path) -> Path:
    """The previous release's quanthub package, unpacked from git: a directory for
    PYTHONPATH, ahead of this checkout's quanthub."""
    commit = (ROOT / "quanthub" / "PREVIOUS_RELEASE").read_text().split()[0]
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "quanthub/quanthub"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        pytest.skip(f"the previous release {commit[:10]} is not in this checkout's history")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tmp_path / "previous", filter="data")
    package = tmp_path / "previous" / "quanthub"
    assert (package / "quanthub" / "__init__.py").exists()
    return package


def test_a_hub_one_release_behind_serves_its_users_with_this_site(
    start_hub, person, make_user_files, previous_quanthub
):
    hub = start_hub("hub-1", PYTHONPATH=str(previous_quanthub))
    hub.wait_ready()
    hub_registered("hub-1")
    ada = person("ada")
    make_user_files("ada", {"research/alpha.ipynb": "notebook"})

    hub_url = ada.open_lab()
    base = f"{hub_url}/user/ada"
    # The server really runs the previous release: its share handler takes POST only (this
    # release's also answers GET, with the post to prefill the dialog from).
    assert ada.http.get(f"{base}/quanthub/share", timeout=10).status_code == 405
    notebook = ada.http.get(f"{base}/api/contents/research/alpha.ipynb", timeout=10).json()
    # The server's own XSRF cookie (the hub sets one of the same name on its own path).
    xsrf = next(c.value for c in ada.http.cookies if c.name == "_xsrf" and "/user/" in c.path)
    notebook["content"]["cells"].append(
        {"cell_type": "markdown", "metadata": {}, "source": "Saved by an older hub."}
    )
    saved = ada.http.put(
        f"{base}/api/contents/research/alpha.ipynb",
        json={"type": "notebook", "format": "json", "content": notebook["content"]},
        headers={"X-XSRFToken": xsrf},
        timeout=30,
    )
    shared = ada.http.post(
        f"{base}/quanthub/share",
        json={
            "path": "research/alpha.ipynb",
            "title": "Alpha",
            "description": "",
            "tags": [],
            "showcase_cell": 0,
        },
        headers={"X-XSRFToken": xsrf},
        timeout=30,
    )

    assert saved.status_code == 200, saved.text[:300]
    stored = notebook_read(user=ada_user(), path="research/alpha.ipynb")
    assert stored.cells[-1].source == "Saved by an older hub."
    assert shared.status_code in (200, 201), shared.text[:300]
    assert Topic.objects.get(author__username="ada").title == "Alpha"
    wait_until(
        lambda: Assignment.objects.filter(user__username="ada", server_running=True).exists(),
        what="ada's server in the older hub's heartbeat",
    )
    assert Hub.objects.get(name="hub-1").mode == "active"


def ada_user():
    from quantsite.accounts.models import User

    return User.objects.get(username="ada")
