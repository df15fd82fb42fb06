import pytest

from quantsite.accounts.tests.factories import UserFactory


@pytest.fixture
def make_user():
    return UserFactory


@pytest.fixture(autouse=True)
def _tasks_inline():
    """Run the render task in the test, even where REDIS_URL points at a broker with no
    worker (CI): these tests are about what rendering produces, not about the broker."""
    from quantsite.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def media(settings, tmp_path):
    """Shared notebooks stored in files under the test's own folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


@pytest.fixture
def ada(client, make_user):
    """ada, logged in on the test client."""
    user = make_user(username="ada")
    client.force_login(user)
    return user
