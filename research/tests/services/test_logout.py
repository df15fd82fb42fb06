"""One session: logging out of the site ends the user's hub logins (``user_hub_sessions_end``)
and the heartbeat answer of their hub announces it (``logout``), identically on both paths."""

import datetime as dt

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

from quantsite.accounts.tests.factories import ApplicationFactory
from research.models import Assignment, Hub
from research.services.assignment import assignment_locate
from research.services.hubs import (
    HubLogout,
    hub_heartbeat,
    hub_heartbeat_record,
    server_token_issue,
    user_hub_sessions_end,
)
from research.tests.conftest import hub_token

pytestmark = pytest.mark.django_db


def hub_login(user, application, name: str) -> AccessToken:
    """What a login through ``application`` leaves: an ID token, an access token with its
    refresh token, and an authorization code not exchanged yet."""
    expires = timezone.now() + dt.timedelta(hours=1)
    id_token = IDToken.objects.create(
        user=user, application=application, expires=expires, scope="openid"
    )
    access = AccessToken.objects.create(
        user=user,
        application=application,
        token=f"{name}-access",
        id_token=id_token,
        scope="openid profile email",
        expires=expires,
    )
    RefreshToken.objects.create(
        user=user, application=application, token=f"{name}-refresh", access_token=access
    )
    Grant.objects.create(
        user=user,
        application=application,
        code=f"{name}-code",
        expires=expires,
        redirect_uri="http://127.0.0.1:8100/hub/oauth_callback",
        scope="openid",
    )
    return access


def tokens() -> list[str]:
    return sorted(
        [
            *AccessToken.objects.values_list("token", flat=True),
            *RefreshToken.objects.values_list("token", flat=True),
            *Grant.objects.values_list("code", flat=True),
        ]
    )


def test_logout_revokes_the_users_hub_logins_and_nothing_else(client, make_hub, make_user):
    hub_1, hub_2 = make_hub("hub-1"), make_hub("hub-2")
    ada, bob = make_user(username="ada"), make_user(username="bob")
    assignment_locate(user=ada)
    hub_token(client, hub_1.application, make_hub.secrets["hub-1"])  # the hub's own credential
    hub_login(ada, hub_1.application, "ada-hub-1")
    hub_login(ada, hub_2.application, "ada-hub-2")  # an older login on another hub
    hub_login(ada, ApplicationFactory(), "ada-other-app")  # not a hub: not a hub login
    hub_login(bob, hub_1.application, "bob-hub-1")
    _raw, server_token = server_token_issue(hub=hub_1, username="ada")

    user_hub_sessions_end(user=ada)

    assert tokens() == sorted(
        [
            "ada-other-app-access",
            "ada-other-app-refresh",
            "ada-other-app-code",
            "bob-hub-1-access",
            "bob-hub-1-refresh",
            "bob-hub-1-code",
            server_token.token,  # ada's running server keeps saving
            AccessToken.objects.get(user__isnull=True).token,
        ]
    )
    assert AccessToken.objects.get(pk=server_token.pk).scope == "notebooks"
    assert sorted(IDToken.objects.values_list("user__username", flat=True)) == ["ada", "bob"]
    assert not IDToken.objects.filter(user=ada, application__hub__isnull=False).exists()


def test_logout_records_the_time_on_the_open_assignment_only(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    Assignment.objects.create(user=ada, hub=hub, ended_at=timezone.now(), end_reason="moved")
    assignment_locate(user=ada)

    user_hub_sessions_end(user=ada)

    open_one = Assignment.objects.get(user=ada, ended_at__isnull=True)
    assert (timezone.now() - open_one.logged_out_at).total_seconds() < 5
    assert Assignment.objects.get(user=ada, ended_at__isnull=False).logged_out_at is None
    assert open_one.ended_at is None  # the assignment (and its server) stays


@pytest.fixture
def two_hubs_with_logouts(client, make_hub, make_user):
    """hub-1 with ada and cy (both logged out), and eve (logged out 121 s ago); hub-2 with
    bob (logged out); dan on hub-1 did not log out."""
    hub_1, hub_2 = make_hub("hub-1"), make_hub("hub-2")
    token = hub_token(client, hub_1.application, make_hub.secrets["hub-1"])
    users = {name: make_user(username=name) for name in ["ada", "bob", "cy", "dan", "eve"]}
    for name, hub in [("ada", hub_1), ("bob", hub_2), ("cy", hub_1), ("dan", hub_1)]:
        Assignment.objects.create(user=users[name], hub=hub)
    Assignment.objects.create(user=users["eve"], hub=hub_1)
    for name in ["cy", "ada", "bob", "eve"]:
        user_hub_sessions_end(user=users[name])
    Assignment.objects.filter(user__username="eve").update(
        logged_out_at=timezone.now() - dt.timedelta(seconds=121)
    )
    return Hub.objects.get(pk=hub_1.pk), token


def expected_logout() -> list[HubLogout]:
    return [
        HubLogout(
            user=name, at=Assignment.objects.get(user__username=name).logged_out_at.timestamp()
        )
        for name in ["ada", "cy"]
    ]


def test_the_heartbeat_answer_lists_the_hubs_recent_logouts(two_hubs_with_logouts):
    hub, _token = two_hubs_with_logouts

    answer = hub_heartbeat_record(hub=hub, running=["ada", "dan"])

    assert answer.logout == expected_logout()
    assert [entry.user for entry in answer.logout] == ["ada", "cy"]
    assert isinstance(answer.logout[0].at, float)
    assert answer.stop == []  # logging out is not moving: the servers keep running


@pytest.mark.postgres
def test_the_one_statement_beat_answers_the_logouts_as_the_steps_do(two_hubs_with_logouts):
    hub, token = two_hubs_with_logouts

    with_steps = hub_heartbeat_record(hub=hub, running=["ada", "dan"])
    in_one = hub_heartbeat(credential=token, running=["ada", "dan"])

    assert in_one == with_steps
    assert in_one.logout == expected_logout()


@pytest.mark.postgres
def test_a_beat_with_logouts_is_still_one_round_trip(two_hubs_with_logouts):
    from django.db import connection

    _hub, token = two_hubs_with_logouts
    hub_heartbeat(credential=token, running=["ada"])  # the clock exists, the digest is set
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        answer = hub_heartbeat(credential=token, running=["ada"])

    assert [entry.user for entry in answer.logout] == ["ada", "cy"]
    assert len(statements) == 1


def test_no_logouts_is_an_empty_list(make_hub):
    hub = make_hub("hub-1")

    assert hub_heartbeat_record(hub=hub, running=[]).logout == []
