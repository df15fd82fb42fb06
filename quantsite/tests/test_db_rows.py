"""``quantsite.db.rows``: model instances from a hand-written query's rows."""

import pytest
from django.db import connection

from quantsite.accounts.models import User
from quantsite.db.rows import column_names, instance_from_row

pytestmark = pytest.mark.django_db


def test_an_instance_has_the_values_of_the_columns_named_in_any_order():
    ada = User.objects.create(username="ada", email="ada@example.com", is_active=False)
    names = ["username", "is_active", "id", "date_joined"]  # not the model's field order
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT {", ".join(column_names(User, "u", names))} FROM "{User._meta.db_table}" u '  # noqa: S608
            'WHERE u."id" = %s',
            [ada.pk],
        )
        user = instance_from_row(User, names, cursor.fetchone())

    assert (user.pk, user.username, user.is_active, user.date_joined) == (
        ada.pk,
        "ada",
        False,
        ada.date_joined,
    )
    assert user.get_deferred_fields() >= {"email", "password"}
