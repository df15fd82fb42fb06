"""The research shell on every page: one policy for the whole site (scripts by nonce, the
person's hub framable), each page describing itself to the site's script, the hub's logout
page, and soft navigations answered with the same pages."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from community.tests.policies import directives
from research.models import Assignment
from research.services.assignment import assignment_locate

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(client, make_user):
    user = make_user(username="ada")
    client.force_login(user)
    return user


def policy(response) -> dict[str, str]:
    return directives(response.headers["Content-Security-Policy"])


def page_state(response) -> dict[str, str]:
    tag = re.search(r'<div id="page-state"[^>]*>', response.content.decode())[0]
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag))


def test_a_page_may_frame_the_hub_of_the_persons_assignment(client, ada, make_hub):
    make_hub("hub-1")
    assignment_locate(user=ada)
    make_hub("hub-2")

    response = client.get("/community")

    assert policy(response)["frame-src"] == "'self' http://127.0.0.1:8100"
    assert '<html lang="en" data-frame-origin="http://127.0.0.1:8100">' in response.content.decode()


@pytest.fixture
def make_hub_first(make_hub):
    return make_hub("hub-1")


@pytest.mark.usefixtures("make_hub_first")
def test_a_person_without_a_hub_may_frame_only_the_site(client, ada):
    response = client.get("/community")

    assert policy(response)["frame-src"] == "'self'"
    assert '<html lang="en" data-frame-origin="">' in response.content.decode()


def test_nobody_signed_in_may_frame_only_the_site(client):
    assert policy(client.get("/"))["frame-src"] == "'self'"


def test_every_page_runs_the_sites_own_scripts_only_by_this_responses_nonce(client, ada):
    for path in ["/", "/community", reverse("notebooks"), reverse("profile")]:
        response = client.get(path)
        nonce = re.fullmatch(r"'nonce-([^']+)'", policy(response)["script-src"])[1]
        scripts = re.findall(r"<script[^>]*>", response.content.decode())
        assert scripts == [
            f'<script nonce="{nonce}" src="/static/django_htmx/htmx-2.min.js" defer>',
            f'<script nonce="{nonce}" src="/static/js/site.js" defer>',
        ], path
        assert policy(response)["object-src"] == "'none'"
        assert policy(response)["base-uri"] == "'none'"


def test_the_research_page_describes_itself_to_the_sites_script(client, ada, make_hub):
    make_hub("hub-1")

    response = client.get("/research", {"path": "a b.ipynb"})

    assert page_state(response) == {
        "shell": "research",
        "prestart": "",
        "hub-origin": "http://127.0.0.1:8100",
        "lab-url": "http://127.0.0.1:8100/hub/user-redirect/lab/tree/a%20b.ipynb",
        "path": "a b.ipynb",
        "url": "/research?path=a+b.ipynb",
    }
    # The frame is outside the swapped #page, shown (not parked).
    html = response.content.decode()
    assert '<div id="research-shell" class="research-shell">' in html
    assert html.index('id="research-frame"') > html.index('<div id="research-shell"')


def test_other_pages_park_the_shell(client, ada):
    response = client.get("/community")

    assert page_state(response)["shell"] == "page"
    assert '<div id="research-shell" class="research-shell parked" inert>' in (
        response.content.decode()
    )


def test_a_soft_navigation_is_answered_with_the_same_page(client, ada):
    whole = client.get("/community")
    soft = client.get("/community", headers={"HX-Request": "true", "HX-Boosted": "true"})

    def page(response) -> str:  # #page, without the (per-response) CSRF token
        html = response.content.decode().split('<div id="page" hx-history-elt>')[1]
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    assert soft.status_code == 200
    assert soft.content.count(b'<div id="page" hx-history-elt>') == 1
    assert page(soft) == page(whole)


def test_pages_that_change_who_the_person_is_are_full_loads(client, ada):
    html = client.get("/").content.decode()

    assert re.search(r'<form method="post" action="/accounts/logout/" hx-boost="false">', html)
    assert 'href="/accounts/password/change/" hx-boost="false"' in html
    client.logout()
    login = client.get("/accounts/login/").content.decode()
    assert '<form hx-boost="false" method="post" action="/accounts/login/"' in login


def test_a_json_answer_does_not_look_up_the_shell(client, ada, make_hub):
    make_hub("hub-1")
    assignment_locate(user=ada)

    response = client.get("/api/me")

    assert response.status_code == 200
    assert policy(response)["frame-src"] == "'self'"


def test_the_admin_runs_its_own_script_files(client, make_user):
    client.force_login(make_user(username="staff", is_staff=True, is_superuser=True))

    response = client.get("/admin/")

    assert response.status_code == 200
    assert policy(response)["script-src"] == "'self'"


def test_a_hubs_logout_finishes_the_sites_logout_at_the_top_of_the_tab(client, ada):
    response = client.get("/accounts/logout/hub/")

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(
        r'<form id="logout-from-hub" method="post" action="/accounts/logout/" target="_top">',
        html,
    )
    nonce = re.fullmatch(r"'nonce-([^']+)'", policy(response)["script-src"])[1]
    assert f'<script nonce="{nonce}">document.getElementById("logout-from-hub").submit();' in html
    # Shown inside the research frame: only the site's own pages may frame it.
    assert policy(response)["frame-ancestors"] == "'self'"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "topbar" not in html


def test_a_hubs_logout_for_someone_logged_out_already_links_to_the_start(client):
    html = client.get("/accounts/logout/hub/").content.decode()

    assert '<a href="/" target="_top">Go to the start page</a>' in html
    assert "<script" not in html


def used_research_lately(user, hub) -> None:
    ago = timezone.now() - dt.timedelta(hours=1)
    Assignment.objects.create(
        user=user,
        hub=hub,
        server_seen_at=ago,
        ended_at=ago,
        end_reason=Assignment.EndReason.IDLE,
    )


def test_the_first_page_of_a_session_pre_starts_a_likely_researchers_server(client, ada, make_hub):
    used_research_lately(ada, make_hub("hub-1"))

    first = client.get("/community")
    second = client.get("/")

    assert page_state(first)["prestart"] == ("http://127.0.0.1:8100/hub/spawn?next=%2Fhub%2Fhome")
    # The page may frame the hub it starts the server on, and the seat is taken.
    assert policy(first)["frame-src"] == "'self' http://127.0.0.1:8100"
    assert Assignment.objects.get(user=ada, ended_at__isnull=True).prestarted_at is not None
    # Once a session: the next page only frames the hub.
    assert page_state(second)["prestart"] == ""
    assert policy(second)["frame-src"] == "'self' http://127.0.0.1:8100"


def test_nothing_is_pre_started_for_someone_who_has_not_used_research(client, ada, make_hub):
    make_hub("hub-1")

    response = client.get("/community")

    assert page_state(response)["prestart"] == ""
    assert not Assignment.objects.filter(user=ada).exists()


def test_pre_starting_can_be_switched_off(client, ada, make_hub, settings):
    settings.RESEARCH_PRESTART = False
    used_research_lately(ada, make_hub("hub-1"))

    assert page_state(client.get("/community"))["prestart"] == ""


def test_logging_out_of_the_site_ends_the_persons_hub_logins(client, ada, make_hub):
    make_hub("hub-1")
    assignment_locate(user=ada)

    client.post("/accounts/logout/")

    assert Assignment.objects.get(user=ada).logged_out_at is not None
