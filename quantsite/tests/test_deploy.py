"""The production topology's configuration (deploy/): what can be checked without running it.
`make run-prod` runs it; the Kubernetes recipe cannot run here, so its values are parsed and
the hub's part of them is run through ``quanthub.configure``."""

import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from deploy.topology import Topology, tls_files

ROOT = Path(__file__).resolve().parents[2]
VALUES = ROOT / "deploy" / "kubernetes" / "values.yaml"


@pytest.fixture
def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def test_the_hub_values_name_every_setting_quanthub_needs(values):
    from quanthub.settings import Quanthub

    env = values["hub"]["extraEnv"]
    required = [f"QUANTHUB_{name.upper()}" for name in ("site_url", "hub_url")]
    assert all(env[name].startswith("https://") for name in required)
    for name in ("QUANTHUB_CLIENT_ID", "QUANTHUB_CLIENT_SECRET"):  # from a secret, never inline
        assert env[name]["valueFrom"]["secretKeyRef"]["name"]
    assert Quanthub.class_traits()["service_url"]  # the setting the values give the pod's port
    assert env["QUANTHUB_SERVICE_URL"].endswith(":8090")
    assert values["hub"]["service"]["extraPorts"][0]["port"] == 8090


def test_the_hubs_extra_config_runs_through_quanthub_configure(values, tmp_path):
    """In a process of its own, as the hub pod runs it: the chart's KubeSpawner, the values'
    environment (the secret's keys stand in), then the recipe's extraConfig."""
    env = {
        name: value if isinstance(value, str) else f"from-secret-{name}"
        for name, value in values["hub"]["extraEnv"].items()
    }
    program = (
        "import json\n"
        "from traitlets.config import Config\n"
        "c = Config()\n"
        "c.JupyterHub.spawner_class = 'kubespawner.KubeSpawner'\n"
        + values["hub"]["extraConfig"]["quanthub"]
        + "print(json.dumps([c.JupyterHub.authenticator_class,"
        " c.GenericOAuthenticator.client_id, c.GenericOAuthenticator.oauth_callback_url]))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[-1]) == [
        "generic-oauth",
        "from-secret-QUANTHUB_CLIENT_ID",
        "https://hub-1.research.example/hub/oauth_callback",
    ]


def test_users_servers_are_bounded_and_fenced(values):
    single = values["singleuser"]
    rules = single["networkPolicy"]["egressAllowRules"]

    assert single["cpu"]["limit"] and single["memory"]["limit"]
    assert rules["cloudMetadataServer"] is False and rules["privateIPs"] is False
    assert single["cloudMetadata"]["blockWithIptables"] is True
    assert values["cull"]["enabled"] is False  # quanthub's culler ends assignments too


@pytest.fixture
def topology(tmp_path) -> Topology:
    return Topology(root=tmp_path / "prod", sites=3)


def test_haproxy_checks_retries_and_serves_every_copy(topology, tmp_path):
    topology.root.mkdir()
    tls_files(topology.tls)
    config = topology.haproxy_config()

    assert config.count("server site") == 3
    assert "http-check send meth GET uri /readyz" in config
    assert "http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS" in config
    if shutil.which("haproxy"):
        path = tmp_path / "haproxy.cfg"
        path.write_text(config)
        checked = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


def test_pgbouncer_pools_transactions_in_front_of_the_topologys_own_cluster(topology):
    config = configparser.ConfigParser()
    config.read_string(topology.pgbouncer_config())

    assert config["pgbouncer"]["pool_mode"] == "transaction"
    assert config["pgbouncer"]["listen_addr"] == "127.0.0.1"
    assert f"port={topology.pg_port}" in config["databases"]["quantsite"]
    assert topology.pg_port != 5432  # never the test suite's cluster
    env = topology.site_environment()
    assert env["DATABASE_PREPARE_THRESHOLD"] == "off"  # PgBouncer 1.18 keeps none
    assert f":{topology.bouncer_port}/" in env["DATABASE_URL"]


def test_the_procfile_runs_every_copy_the_workers_and_exactly_one_beat(topology):
    lines = topology.procfile_text().splitlines()
    names = [line.split(":", 1)[0] for line in lines]

    assert [n for n in names if n.startswith("site")] == ["site1", "site2", "site3"]
    assert names.count("beat") == 1
    assert any("-Q render" in line for line in lines)
    assert any("-Q celery" in line for line in lines)


def test_the_local_ca_signs_a_certificate_for_loopback(topology):
    tls_files(topology.tls)
    ca = x509.load_pem_x509_certificate(topology.ca_certificate.read_bytes())
    certificate = x509.load_pem_x509_certificate((topology.tls / "haproxy.pem").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value

    ca.public_key().verify(
        certificate.signature,
        certificate.tbs_certificate_bytes,
        ec.ECDSA(certificate.signature_hash_algorithm),
    )
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert (topology.tls / "haproxy.pem").stat().st_mode & 0o077 == 0  # its key: owner only


def test_the_procfile_entries_are_its_lines_by_name(topology):
    entries = topology.procfile_entries()
    lines = topology.procfile_text().splitlines()

    assert [f"{name}: {command}" for name, command in entries.items()] == lines
    assert entries["site2"].endswith(f"--control-socket {topology.root}/site/site2.ctl")
    assert f"--bind 127.0.0.1:{topology.site_port(2)} " in entries["site2"]


def test_the_cluster_acknowledges_commits_only_once_the_backup_receiver_has_them(topology):
    from deploy.backup import RECEIVER_NAME, receiver_command, synchronous_options, wal_archive

    command = receiver_command(port=topology.pg_port, archive=wal_archive(topology))
    connection = command[command.index("-d") + 1]

    assert f"-c synchronous_standby_names={RECEIVER_NAME} " in synchronous_options()
    assert f"application_name={RECEIVER_NAME}" in connection.split()
    assert f"port={topology.pg_port}" in connection.split()
    assert "--synchronous" in command  # it reports each flush at once, as a standby must
    assert command[command.index("--slot") + 1] == RECEIVER_NAME
    assert wal_archive(topology) == topology.root / "backup" / "wal"


def test_the_restore_command_serves_the_receivers_partial_segment_last(tmp_path):
    from deploy.backup import restore_command

    archive = tmp_path / "wal with space"
    archive.mkdir()
    (archive / "000000010000000000000002").write_text("complete")
    (archive / "000000010000000000000003.partial").write_text("partial")
    (archive / "000000010000000000000002.partial").write_text("stale partial")

    def fetch(name: str) -> tuple[int, str | None]:
        target = tmp_path / "pg_wal" / "RECOVERYXLOG"
        target.parent.mkdir(exist_ok=True)
        target.unlink(missing_ok=True)
        command = restore_command(archive).replace("%f", name).replace("%p", str(target))
        ran = subprocess.run(["sh", "-c", command], capture_output=True, check=False)
        return ran.returncode, target.read_text() if target.exists() else None

    assert fetch("000000010000000000000002") == (0, "complete")
    assert fetch("000000010000000000000003") == (0, "partial")
    status, content = fetch("00000002.history")
    assert status != 0 and content is None  # which ends recovery at the end of the archive
