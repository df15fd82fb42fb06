"""Account services that the pages and the admin do not show directly."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from quantsite.accounts.models import AuthorizationCodeExchange
from quantsite.accounts.services import oauth_tokens_clear
from quantsite.accounts.tests.factories import ApplicationFactory

pytestmark = pytest.mark.django_db


def test_clearing_tokens_forgets_code_exchanges_older_than_a_refresh_tokens_life(settings):
    app = ApplicationFactory()
    life = settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"]
    old, recent = (
        AuthorizationCodeExchange.objects.create(
            code_digest=digest, application=app, token_family=uuid.uuid4()
        )
        for digest in ("a" * 64, "b" * 64)
    )
    AuthorizationCodeExchange.objects.filter(pk=old.pk).update(
        created=timezone.now() - dt.timedelta(seconds=life + 60)
    )

    oauth_tokens_clear()

    assert list(AuthorizationCodeExchange.objects.values_list("pk", flat=True)) == [recent.pk]
