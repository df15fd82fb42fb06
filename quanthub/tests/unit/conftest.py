"""Fast tests of the quanthub package on its own: no site, no JupyterHub process.

What a hub talks to is the outside world here, and it is real HTTP on loopback
(``quanthub_stubs``); quanthub's own code runs unchanged. Collected by the site's pytest
session (``testpaths`` in the root pyproject.toml), so ``make test`` and ``make test-fast``
run them.
"""

import pytest
from quanthub_stubs import StubHub, StubSite


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def site():
    stub = StubSite()
    stub.start()
    yield stub
    stub.stop()


@pytest.fixture
async def hub():
    stub = StubHub(running=["ada", "bob"])
    stub.start()
    yield stub
    stub.stop()
