"""What `make run` starts: the Procfile's processes, and `python -m hubs.local run NAME`
(hubs/local.py) up to the point where it would wait for a site. No hub is started here; the
live tests (research/tests/live/) start real ones with `LocalHub`."""

from pathlib import Path

import pytest
from honcho.environ import parse_procfile

from hubs import local
from hubs.local import ROOT, LocalHub, local_hub, wait_for_site

PROCFILE = parse_procfile((ROOT / "Procfile").read_text())
HUB_SETTINGS = [
    "QUANTHUB_SITE_URL",
    "QUANTHUB_HUB_URL",
    "QUANTHUB_CLIENT_ID",
    "QUANTHUB_CLIENT_SECRET",
    "QUANTHUB_STATE_DIR",
    "QUANTHUB_HUB_API_PORT",
    "QUANTHUB_PROXY_API_PORT",
]


def test_the_procfile_names_the_processes_of_make_run():
    assert list(PROCFILE.processes) == ["web", "worker", "beat", "hub-1", "hub-2"]


def test_each_hub_of_the_procfile_is_a_local_hub_run_by_its_name():
    assert PROCFILE.processes["hub-1"] == "python -m hubs.local run hub-1"
    assert PROCFILE.processes["hub-2"] == "python -m hubs.local run hub-2"
    assert list(local.LOCAL_HUBS) == ["hub-1", "hub-2"]


def test_run_refuses_a_hub_that_is_not_local(capsys):
    with pytest.raises(SystemExit) as exit:
        local.main(["run", "hub-3"])

    assert exit.value.code == 2
    assert "argument name: invalid choice: 'hub-3'" in capsys.readouterr().err


def test_a_local_hub_listens_beside_the_site_and_keeps_its_state_in_the_var_dir(monkeypatch):
    monkeypatch.setenv("QUANTSITE_VAR_DIR", "/srv/quantsite")

    hub = local_hub("hub-2", "http://127.0.0.1:9000")

    assert hub == LocalHub("hub-2", 9201, Path("/srv/quantsite/hubs/hub-2"))
    assert hub.url == "http://127.0.0.1:9201"


def test_a_hubs_environment_names_its_site_credentials_state_and_ports():
    hub = LocalHub("hub-1", 8101, Path("/srv/quantsite/hubs/hub-1"))

    env = hub.environment(site_url="http://127.0.0.1:8000", client_id="id", client_secret="s")

    assert {name: env[name] for name in HUB_SETTINGS} == {
        "QUANTHUB_SITE_URL": "http://127.0.0.1:8000",
        "QUANTHUB_HUB_URL": "http://127.0.0.1:8101",
        "QUANTHUB_CLIENT_ID": "id",
        "QUANTHUB_CLIENT_SECRET": "s",
        "QUANTHUB_STATE_DIR": "/srv/quantsite/hubs/hub-1",
        "QUANTHUB_HUB_API_PORT": "8102",
        "QUANTHUB_PROXY_API_PORT": "8103",
    }


def test_waiting_for_a_site_that_never_answers_gives_up_with_its_address():
    with pytest.raises(SystemExit) as exit:
        wait_for_site("http://127.0.0.1:9", timeout=0.5)

    assert str(exit.value) == "the site did not answer at http://127.0.0.1:9 within 0.5 s"
