"""jupyter_server's test_checkpoints.py, unchanged, against QuantsiteContentsManager."""

import pytest
from tests.services.contents.test_checkpoints import *  # noqa: F403


@pytest.fixture
def contents_manager(quantsite_manager, contents):
    return quantsite_manager
