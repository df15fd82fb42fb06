"""The hub's pages from quanthub's templates, rendered by Jinja as JupyterHub loads them (its
own templates under ``templates/``, quanthub's first on the search path): the site's look, no
JupyterHub navigation bar, and a wait that shows progress, failure and a way to try again."""

from types import SimpleNamespace

import pytest
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader
from jupyterhub._data import DATA_FILES_PATH

from quanthub.config import TEMPLATES_DIR

JUPYTERHUB_TEMPLATES = f"{DATA_FILES_PATH}/templates"
PROGRESS_URL = "/hub/api/users/ada/server/progress?_xsrf=x"


@pytest.fixture(scope="module")
def render():
    # As JupyterHub.init_tornado_settings builds its environment (app.py).
    loader = ChoiceLoader(
        [
            PrefixLoader({"templates": FileSystemLoader([JUPYTERHUB_TEMPLATES])}, "/"),
            FileSystemLoader([str(TEMPLATES_DIR), JUPYTERHUB_TEMPLATES]),
        ]
    )
    environment = Environment(loader=loader, autoescape=True)
    user = SimpleNamespace(
        name="ada",
        escaped_name="ada",
        json_escaped_name="ada",
        spawner=SimpleNamespace(options_form=None),
    )
    namespace = dict(
        base_url="/hub/",
        prefix="/",
        user=user,
        login_url="/hub/login",
        logout_url="/hub/logout",
        static_url=lambda path, **kwargs: f"/hub/static/{path}",
        version_hash="",
        services=[],
        parsed_scopes={},
        expanded_scopes=set(),
        xsrf="x",
        xsrf_token="x",
        site_url="http://127.0.0.1:8000",  # quanthub's template_vars
    )

    def render(name: str, **values) -> str:
        return environment.get_template(name).render(**namespace, **values)

    return render


def test_the_wait_has_the_sites_look_and_no_hub_navigation(render):
    page = render("spawn_pending.html", spawner=SimpleNamespace(name=""), progress_url=PROGRESS_URL)

    assert "<nav" not in page
    assert "Logout" not in page
    assert "darkmode.js" not in page  # it wires the navigation bar's theme button
    assert "--qs-accent: #1f6feb" in page
    assert '--qs-font: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif' in page
    assert "<title>Research · Quantsite</title>" in page
    assert '<h1 id="qs-heading">Starting your research server</h1>' in page


def test_the_wait_follows_the_progress_events_and_offers_a_retry(render):
    page = render("spawn_pending.html", spawner=SimpleNamespace(name=""), progress_url=PROGRESS_URL)

    assert 'new EventSource("/hub/api/users/ada/server/progress?_xsrf=x")' in page
    assert 'id="progress-bar"' in page
    assert '<div id="spawn-failed" class="qs-error" role="alert" hidden>' in page
    assert 'href="/hub/spawn/ada">Try again</a>' in page
    assert 'href="http://127.0.0.1:8000/research" target="_top">Back to research</a>' in page
    # JupyterHub's own wait (its Stop Server button and Bootstrap progress bar) is replaced.
    assert "stop-server-btn" not in page
    assert 'class="progress-bar"' not in page


def test_a_named_servers_retry_spawns_that_server(render):
    page = render(
        "spawn_pending.html", spawner=SimpleNamespace(name="gpu 1"), progress_url=PROGRESS_URL
    )

    assert 'href="/hub/spawn/ada/gpu%201">Try again</a>' in page


def test_every_other_hub_page_loses_the_navigation_bar_too(render):
    page = render("not_running.html", spawn_url="/hub/spawn/ada", failed=False, server_name="")

    assert "<nav" not in page
    assert "Logout" not in page
    assert "--qs-accent: #1f6feb" in page
    assert 'href="/hub/spawn/ada"' in page
