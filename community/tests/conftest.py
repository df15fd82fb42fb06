import pytest

from quantsite.accounts.tests.factories import UserFactory


@pytest.fixture
def make_user():
    return UserFactory
