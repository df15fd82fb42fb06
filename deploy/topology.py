"""The production topology on one machine, on loopback: ``make run-prod``.

What runs, all on 127.0.0.1 (ports in ``Topology``):

- a PostgreSQL cluster of its own (never the one the test suite uses), behind PgBouncer in
  transaction pooling; the site reaches the database only through PgBouncer, with prepared
  statements off (Debian 12's PgBouncer is 1.18, which cannot keep them in that mode) and no
  server-side cursors;
- Redis of its own (the Celery broker), a bookkeeping worker (queue ``celery``), a render
  worker (queue ``render``) and exactly one beat;
- ``sites`` gunicorn copies of the site with its production settings (``PRODUCTION=1``:
  HTTPS redirect, HSTS, secure cookies, https-only OAuth redirect URIs), behind HAProxy, which
  terminates TLS with a certificate from a local CA made here, checks each copy's ``/readyz``,
  retries what is safe to retry on another copy, and stops sending to a copy that stops;
- an S3-compatible object store (moto's server) for shared notebooks, and an SMTP sink that
  keeps every outgoing mail as a file under ``mail/``.

``python -m deploy.topology run`` prepares what is missing (Debian packages, the CA and
certificate, secrets, the cluster, the configuration files), starts the stores and waits for
them, runs the release step once (migrations, static files), then runs the application tier
under honcho (``Procfile`` in the state directory) until Ctrl-C, and stops the stores.
``prepare`` only writes the files. Everything lives in ``QUANTSITE_PROD_DIR`` (``var-prod/``).
PostgreSQL and PgBouncer refuse to run as root: as root they run as the ``postgres`` user.
"""

import argparse
import contextlib
import datetime as dt
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = Path(__file__).resolve().parent
PACKAGES = {"haproxy": "haproxy", "pgbouncer": "pgbouncer"}  # command: Debian package
DB_NAME = "quantsite"
S3_BUCKET = "quantsite-prod"


@dataclass(frozen=True)
class Topology:
    root: Path
    sites: int = 3
    https_port: int = 8443
    http_port: int = 8080
    stats_port: int = 8404
    site_base_port: int = 8110  # copy i (1-based) listens on site_base_port + i
    pg_port: int = 55432
    bouncer_port: int = 56432
    redis_port: int = 56379
    s3_port: int = 59000
    smtp_port: int = 8025
    workers: dict = field(default_factory=lambda: {"worker": "celery", "render": "render"})

    @property
    def site_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def site_port(self, copy: int) -> int:
        return self.site_base_port + copy

    # Paths -----------------------------------------------------------------------------

    @property
    def pg_data(self) -> Path:
        return self.root / "postgres"

    @property
    def tls(self) -> Path:
        return self.root / "tls"

    @property
    def ca_certificate(self) -> Path:
        return self.tls / "ca.pem"

    @property
    def procfile(self) -> Path:
        return self.root / "Procfile"

    # Environments ----------------------------------------------------------------------

    def direct_database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/{DB_NAME}"

    def site_environment(self) -> dict[str, str]:
        """What every site process (copies, workers, beat, the release step) runs with."""
        secret = _secret(self.root / "secrets" / "secret_key", lambda: secrets.token_urlsafe(50))
        notebook_key = _secret(self.root / "secrets" / "notebook_key", _fernet_key)
        oidc_key = _secret(self.root / "secrets" / "oidc_rsa_key.pem", _rsa_private_key_pem)
        metrics = _secret(
            self.root / "secrets" / "metrics_token", lambda: secrets.token_urlsafe(24)
        )
        return {
            "PRODUCTION": "1",
            "SECRET_KEY": secret,
            "OIDC_RSA_PRIVATE_KEY": oidc_key,
            "NOTEBOOK_ENCRYPTION_KEYS": notebook_key,
            "SITE_URL": self.site_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "QUANTSITE_VAR_DIR": str(self.root / "site"),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.bouncer_port}/{DB_NAME}",
            "DATABASE_PREPARE_THRESHOLD": "off",
            "DATABASE_DISABLE_SERVER_SIDE_CURSORS": "1",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "S3_BUCKET": S3_BUCKET,
            "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.s3_port}",
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_ACCESS_KEY_ID": "loopback",
            "AWS_SECRET_ACCESS_KEY": "loopback",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp_port),
            "EMAIL_USE_TLS": "0",
            # /metrics for a scraper with this token; every process of this host counts into
            # one directory (emptied at each start).
            "METRICS_TOKEN": metrics,
            "PROMETHEUS_MULTIPROC_DIR": str(self.root / "metrics"),
            # HAProxy sets X-Forwarded-Proto (and drops any the client sent).
            "SSL_CERT_FILE": str(self.ca_certificate),
            "REQUESTS_CA_BUNDLE": str(self.ca_certificate),
            "PYTHONUNBUFFERED": "1",
        }

    # Configuration files -----------------------------------------------------------------

    def haproxy_config(self) -> str:
        servers = "\n".join(
            f"    server site{copy} 127.0.0.1:{self.site_port(copy)} check"
            for copy in range(1, self.sites + 1)
        )
        return _template("haproxy.cfg.in").substitute(
            root=self.root,
            https_port=self.https_port,
            http_port=self.http_port,
            stats_port=self.stats_port,
            servers=servers,
        )

    def pgbouncer_config(self) -> str:
        return _template("pgbouncer.ini.in").substitute(
            root=self.root,
            db_name=DB_NAME,
            pg_port=self.pg_port,
            bouncer_port=self.bouncer_port,
        )

    def procfile_text(self) -> str:
        python = sys.executable
        bin_dir = Path(python).parent
        as_db_user = " ".join(_as_db_user())
        lines = [
            f"pgbouncer: {as_db_user} pgbouncer {self.root}/pgbouncer/pgbouncer.ini",
            f"redis: redis-server --bind 127.0.0.1 --port {self.redis_port} --save '' "
            "--appendonly no",
            f"haproxy: haproxy -W -db -f {self.root}/haproxy/haproxy.cfg",
        ]
        for copy in range(1, self.sites + 1):
            lines.append(
                f"site{copy}: {bin_dir}/gunicorn quantsite.wsgi --config "
                f"{DEPLOY}/gunicorn.conf.py --bind 127.0.0.1:{self.site_port(copy)} "
                f"--control-socket {self.root}/site/site{copy}.ctl"
            )
        for name, queue in self.workers.items():
            lines.append(
                f"{name}: {bin_dir}/celery -A quantsite worker -Q {queue} -n {name}@%h "
                "--loglevel=INFO --concurrency=2"
            )
        lines.append(
            f"beat: {bin_dir}/celery -A quantsite beat --loglevel=INFO "
            f"--schedule {self.root}/site/celerybeat-schedule"
        )
        return "\n".join(lines) + "\n"

    def procfile_entries(self) -> dict[str, str]:
        """The Procfile's processes, name → shell command, in its order (for a supervisor of
        one's own, such as bench/topology_drill.py, which kills and restarts them one by one)."""
        entries = (line.split(":", 1) for line in self.procfile_text().splitlines() if line)
        return {name: command.strip() for name, command in entries}

    def write(self) -> None:
        """Every file the topology reads, written afresh (secrets and the CA are kept)."""
        for name in ("haproxy", "pgbouncer", "site", "mail", "secrets", "tls", "logs"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.root / "metrics", ignore_errors=True)
        (self.root / "metrics").mkdir()
        (self.root / "secrets").chmod(0o700)
        (self.root / "site").chmod(0o700)
        tls_files(self.tls)
        (self.root / "haproxy" / "haproxy.cfg").write_text(self.haproxy_config())
        bouncer = self.root / "pgbouncer"
        (bouncer / "pgbouncer.ini").write_text(self.pgbouncer_config())
        (bouncer / "userlist.txt").write_text('"postgres" ""\n')
        _chown_to_db_user(bouncer)
        self.procfile.write_text(self.procfile_text())


def _template(name: str) -> Template:
    return Template((DEPLOY / name).read_text())


def _secret(path: Path, make) -> str:
    """The secret kept at ``path``, made once (0600)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _rsa_private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


# TLS: a local CA and the site's certificate --------------------------------------------------


def tls_files(directory: Path, *, days: int = 90) -> None:
    """``ca.pem`` (a CA of this machine only) and ``haproxy.pem`` (the certificate for
    127.0.0.1 and localhost, signed by it, with its key), made once; a certificate within a
    week of its end is made again."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    bundle = directory / "haproxy.pem"
    if bundle.exists():
        current = x509.load_pem_x509_certificate(bundle.read_bytes())
        if current.not_valid_after_utc - dt.timedelta(days=7) > dt.datetime.now(dt.UTC):
            return
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Quantsite loopback CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    bundle.touch(mode=0o600)
    bundle.write_bytes(
        certificate.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


# Processes ---------------------------------------------------------------------------------


def _as_db_user() -> list[str]:
    """PostgreSQL and PgBouncer refuse root: as root, they run as ``postgres``."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _chown_to_db_user(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
        for child in path.rglob("*"):
            shutil.chown(child, "postgres", "postgres")


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in versions:
        if (directory / name).exists():
            return str(directory / name)
    raise SystemExit(f"{name} not found: install PostgreSQL's server package")


def install_packages() -> None:
    """Debian's HAProxy and PgBouncer, installed if their commands are missing."""
    missing = [package for command, package in PACKAGES.items() if not shutil.which(command)]
    if not missing:
        return
    print(f"installing {' '.join(missing)} (apt-get)", flush=True)
    install = ["apt-get", "install", "-y", "-q", *missing]
    if subprocess.run(install, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, check=True)
        subprocess.run(install, stdout=subprocess.DEVNULL, check=True)


def wait_for_port(port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"{what} is not answering on 127.0.0.1:{port}")


def postgres_start(topology: Topology) -> None:
    """The topology's own cluster: made on first use, started with its WAL streamed
    synchronously into the backup archive (``deploy/backup.py``: a commit is acknowledged only
    once its WAL is archived), its database there, and a first base backup if none exists."""
    from deploy import backup

    data = topology.pg_data
    if not (data / "PG_VERSION").exists():
        backup.cluster_init(data)
    backup.cluster_start(
        data=data,
        port=topology.pg_port,
        log=topology.root / "logs" / "postgres.log",
        options=backup.synchronous_options(),
    )
    # Before anything commits: from here every commit waits for the receiver's fsync.
    backup.topology_receiver_start(topology)
    created = subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-p", str(topology.pg_port), "-U", "postgres", DB_NAME],
        capture_output=True,
        text=True,
    )
    if created.returncode != 0 and "already exists" not in created.stderr:
        raise SystemExit(f"createdb failed: {created.stderr.strip()}")
    backup.topology_base_backup_ensure(topology)


def postgres_stop(topology: Topology) -> None:
    subprocess.run(
        [
            *_as_db_user(),
            _pg_bin("pg_ctl"),
            "-D",
            str(topology.pg_data),
            "-m",
            "fast",
            "-w",
            "stop",
        ],
        check=False,
    )
    from deploy import backup

    backup.topology_receiver_stop(topology)


def release(topology: Topology) -> None:
    """Once per release, before the copies start: migrations and static files (the copies
    never migrate), straight to PostgreSQL rather than through the pooler."""
    env = {
        **os.environ,
        **topology.site_environment(),
        "DATABASE_URL": topology.direct_database_url(),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run([*manage, *command], env=env, check=True, cwd=ROOT)
    # A staff account to log in with (production has no demo users): "ops", its password
    # kept in secrets/ops_password.
    password = _secret(
        topology.root / "secrets" / "ops_password", lambda: secrets.token_urlsafe(12)
    )
    admin = {
        "DJANGO_SUPERUSER_USERNAME": "ops",
        "DJANGO_SUPERUSER_EMAIL": "ops@127.0.0.1.invalid",
        "DJANGO_SUPERUSER_PASSWORD": password,
    }
    made = subprocess.run(
        [*manage, "createsuperuser", "--noinput"],
        env={**env, **admin},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if made.returncode != 0 and "already taken" not in made.stderr:
        raise SystemExit(f"createsuperuser failed: {made.stderr.strip()}")


def object_store_start(topology: Topology) -> subprocess.Popen:
    """moto's S3 server, with the topology's bucket."""
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "moto_server"),
            "-H",
            "127.0.0.1",
            "-p",
            str(topology.s3_port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(topology.s3_port, "the object store")
    import boto3

    env = topology.site_environment()
    boto3.client(
        "s3",
        endpoint_url=env["AWS_S3_ENDPOINT_URL"],
        region_name=env["AWS_S3_REGION_NAME"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=S3_BUCKET)
    return server


def smtp_sink_start(topology: Topology) -> subprocess.Popen:
    sink = subprocess.Popen(
        [
            sys.executable,
            str(DEPLOY / "smtp_sink.py"),
            "--port",
            str(topology.smtp_port),
            "--directory",
            str(topology.root / "mail"),
        ],
        start_new_session=True,
    )
    wait_for_port(topology.smtp_port, "the SMTP sink")
    return sink


def run(topology: Topology) -> int:
    install_packages()
    topology.write()
    background: list[subprocess.Popen] = []
    # A signal before the application tier runs stops what has started (``finally``).
    for stop in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, lambda number, frame: sys.exit(128 + number))
    postgres_start(topology)
    try:
        background.append(object_store_start(topology))
        background.append(smtp_sink_start(topology))
        release(topology)
        print(
            f"\nThe site: {topology.site_url}/ (trust {topology.ca_certificate} or accept the"
            f" warning), HAProxy's status at http://127.0.0.1:{topology.stats_port}/; log in"
            f" as ops with the password in {topology.root / 'secrets' / 'ops_password'}."
            f" Mail lands in {topology.root / 'mail'}. Ctrl-C stops"
            " everything.\n",
            flush=True,
        )
        env = {**os.environ, **topology.site_environment()}
        honcho = [
            str(Path(sys.executable).parent / "honcho"),
            "start",
            "-f",
            str(topology.procfile),
            "-d",
            str(ROOT),
        ]
        tier = subprocess.Popen(honcho, env=env, cwd=ROOT)
        # Stopped by a signal (SIGTERM from a supervisor, SIGHUP as the terminal closes), the
        # application tier is asked to stop as on Ctrl-C, then the stores (``finally``).
        for stop in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(stop, lambda number, frame: tier.send_signal(signal.SIGINT))
        while True:
            try:
                return tier.wait()
            except KeyboardInterrupt:
                continue  # honcho has the same Ctrl-C, and stops the tier: wait for it
    except KeyboardInterrupt:
        return 130
    finally:
        for process in background:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                process.wait(timeout=10)
        postgres_stop(topology)


def topology_from_environment() -> Topology:
    root = Path(os.environ.get("QUANTSITE_PROD_DIR", ROOT / "var-prod")).resolve()
    return Topology(root=root, sites=int(os.environ.get("PROD_SITES", "3")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "prepare"])
    args = parser.parse_args(argv)
    topology = topology_from_environment()
    if args.command == "prepare":
        topology.write()
        print(f"wrote {topology.root}")
        return 0
    return run(topology)


if __name__ == "__main__":
    sys.exit(main())
