"""jupyter_server's test_manager.py, unchanged, against QuantsiteContentsManager.

Upstream's ``_make_dir`` helper plants directories on the disk under the manager's root; here
it makes them in the user's store instead, through the site's service. The tests themselves
are upstream's, untouched.
"""

import pytest
import tests.services.contents.test_manager as upstream
from tests.services.contents.test_manager import *  # noqa: F403


def _make_dir(contents_manager, api_path):
    from research.services.notebooks import directory_create

    parts = [p for p in api_path.split("/") if p]
    for depth in range(1, len(parts) + 1):
        directory_create(user=contents_manager.test_user, path="/".join(parts[:depth]))


upstream._make_dir = _make_dir


@pytest.fixture
def jp_contents_manager(quantsite_manager, site_user):
    quantsite_manager.test_user = site_user[0]
    return quantsite_manager
