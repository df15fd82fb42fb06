"""jupyter_server's own contents tests, run against QuantsiteContentsManager (as PGContents
proved itself against the notebook's tests).

The tests come from the source distribution of the installed jupyter_server version,
downloaded once into var/upstream/ (git-ignored). A real site runs for the session (Django's
server on loopback, its own fresh database); every test gets a new user with a server token,
so it starts from an empty store. Run with ``make test`` (or ``pytest -p no:django
quanthub/tests/upstream``).
"""

import itertools
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from urllib.parse import urljoin
from urllib.request import urlopen

import jupyter_server
import pytest

ROOT = Path(__file__).resolve().parents[3]
VERSION = jupyter_server.__version__
UPSTREAM = ROOT / "var" / "upstream" / f"jupyter_server-{VERSION}"


def _ensure_upstream_tests() -> None:
    if (UPSTREAM / "tests" / "services" / "contents" / "test_manager.py").exists():
        return
    downloads = UPSTREAM.parent
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / f"jupyter_server-{VERSION}.tar.gz"
    if not archive.exists():
        # The package index's simple page lists the files of every release.
        index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
        with urlopen(f"{index}/jupyter-server/", timeout=60) as page:
            html = page.read().decode()
        match = re.search(
            rf'href="([^"]*/jupyter_server-{re.escape(VERSION)}\.tar\.gz[^"]*)"', html
        )
        if match is None:
            raise RuntimeError(f"no jupyter_server {VERSION} source distribution on {index}")
        url = urljoin(f"{index}/jupyter-server/", match[1].replace("&amp;", "&"))
        with urlopen(url, timeout=120) as response:
            archive.write_bytes(response.read())
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/tests/" in m.name]
        tar.extractall(downloads, members=members, filter="data")


_ensure_upstream_tests()
sys.path.insert(0, str(UPSTREAM))  # the upstream `tests` package

pytest_plugins = ["jupyter_server.pytest_plugin"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(tmp: Path) -> str:
    base = os.environ.get("DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp / 'upstream.sqlite3'}"
    import psycopg

    server, _, name = base.rpartition("/")
    name = f"{name}_upstream"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


@pytest.fixture(scope="session")
def quantsite(tmp_path_factory):
    """The site under test: (base URL, Django set up in this process on its database)."""
    tmp = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(tmp),
        "QUANTSITE_VAR_DIR": str(tmp),
        "DJANGO_SETTINGS_MODULE": "quantsite.settings",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urlopen(f"{base}/healthz", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the site did not start") from None
            time.sleep(0.2)
    for key in ("DATABASE_URL", "QUANTSITE_VAR_DIR", "DJANGO_SETTINGS_MODULE"):
        os.environ[key] = env[key]
    # Upstream tests are coroutines; the fixtures and checks here use the ORM synchronously.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    yield base
    server.terminate()
    server.wait(timeout=20)


_users = itertools.count()


@pytest.fixture
def site_user(quantsite):
    """A new site user and a server token for them (scope notebooks): (user, token)."""
    import datetime as dt

    from django.utils import timezone
    from oauth2_provider.models import AccessToken, set_token_value

    from quantsite.accounts.models import User

    user = User.objects.create(
        username=f"u{os.getpid()}x{next(_users)}", email=f"u{next(_users)}x{os.getpid()}@t.local"
    )
    token = AccessToken(
        user=user, scope="notebooks", expires=timezone.now() + dt.timedelta(hours=1)
    )
    raw = f"upstream-{user.username}-token-0123456789abcdef"
    set_token_value(token, raw)
    token.save()
    return user, raw


@pytest.fixture
def quantsite_manager(quantsite, site_user):
    from quanthub.contents import QuantsiteContentsManager

    return QuantsiteContentsManager(site_url=quantsite, api_token=site_user[1])


@pytest.fixture
def contents(site_user):
    """Upstream's `contents` fixture, planted in the user's store through the site's service
    instead of on disk: the same directories, notebooks, text files and blobs."""
    from nbformat import writes
    from nbformat.v4 import new_notebook
    from tests.conftest import dirs

    from research.services.notebooks import directory_create, file_save

    user = site_user[0]
    paths = {"notebooks": [], "textfiles": [], "blobs": [], "contents_dir": None}
    for directory, name in dirs:
        parts = [p for p in directory.split("/") if p]
        for depth in range(1, len(parts) + 1):
            directory_create(user=user, path="/".join(parts[:depth]))
        prefix = f"{directory}/" if directory else ""
        nb = writes(new_notebook(), version=4)
        file_save(user=user, path=f"{prefix}{name}.ipynb", data=nb.encode("utf-8"))
        file_save(user=user, path=f"{prefix}{name}.txt", data=f"{name} text file".encode())
        file_save(user=user, path=f"{prefix}{name}.blob", data=name.encode("utf-8") + b"\xff")
        paths["notebooks"].append(Path(f"{prefix}{name}.ipynb"))
        paths["textfiles"].append(Path(f"{prefix}{name}.txt"))
        paths["blobs"].append(Path(f"{prefix}{name}.blob"))
    paths["all"] = list(paths.values())
    return paths


@pytest.fixture
def folders():
    from tests.conftest import dirs

    return list({item[0] for item in dirs})


# Upstream tests that cannot apply to a manager whose files are not on this disk, each with
# the reason. They are reported as skipped, not hidden.
NOT_APPLICABLE = {
    # They construct FileContentsManager on a directory and test it (root_dir, OS paths,
    # symlinks, OS permissions), never the manager under test.
    **dict.fromkeys(
        [
            "test_root_dir",
            "test_missing_root_dir",
            "test_invalid_root_dir",
            "test_get_os_path",
            "test_get_os_path_posix",
            "test_checkpoint_subdir",
            "test_bad_symlink",
            "test_recursive_symlink",
            "test_good_symlink",
            "test_403",
            "test_400",
            "test_404",
            "test_escape_root",
            "test_save_before_and_after_signature_store_corruption",
            "test_save_raises_when_signature_store_unrecoverable",
        ],
        "tests FileContentsManager itself (OS paths, symlinks, permissions), not this manager",
    ),
    **dict.fromkeys(
        [
            "test_created_timestamp",
            "test_created_uses_birthtime_on_macos",
            "test_created_timestamp_fallback_to_epoch",
            "test_created_uses_ctime_on_windows",
            "test_base_model_invalid_timestamp_fallback",
            "test_get_created_timestamp_uses_birthtime",
            "test_get_created_timestamp_fallback_no_birthtime",
            "test_get_created_timestamp_accepts_zero_birthtime",
            "test_get_created_timestamp_fallback_negative_birthtime",
            "test_get_created_timestamp_fallback_infinite_birthtime",
            "test_get_created_timestamp_fallback_nan_birthtime",
            "test_get_created_timestamp_fallback_none_birthtime",
            "test_get_created_timestamp_fallback_string_birthtime",
        ],
        "reads file birth times from os.stat; the site records `created` when a file is made",
    ),
    "test_copy_big_dir": "plants 100 MB on disk for a FileContentsManager setting "
    "(max_copy_folder_size_mb); the site's limit is NOTEBOOK_MAX_COPY_BYTES",
    "test_regression_is_hidden": "patches FileContentsManager's is_hidden internals and "
    "plants a hidden directory on disk",
    "test_get_nb_invalid": "writes an invalid notebook on disk behind the manager's back",
    "test_get_404_hidden": "plants hidden files on disk behind the manager's back",
    "test_rename": "asserts the renamed files exist on disk",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        reason = NOT_APPLICABLE.get(item.originalname)
        # test_rename of test_manager.py uses the manager only; test_api.py's looks at disk.
        applies = item.originalname != "test_rename" or "test_upstream_api" in item.nodeid
        if reason is not None and applies:
            item.add_marker(pytest.mark.skip(reason=f"not applicable: {reason}"))
