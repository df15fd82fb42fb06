"""jupyter_server's test_manager.py, unchanged, against QuantsiteContentsManager."""

import pytest

from tests.services.contents.test_manager import *  # noqa: F403


@pytest.fixture
def jp_contents_manager(quantsite_manager):
    return quantsite_manager
