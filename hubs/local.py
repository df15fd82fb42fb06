"""Local hubs: real JupyterHub processes on loopback ports, for `make run` and the tests.

`make run` starts each hub as its own process (Procfile) with ``python -m hubs.local run
hub-1``: wait for the site, register the hub, then become JupyterHub. Tests, benchmarks and
fault drills start, kill and restart hubs themselves with `LocalHub`.
"""

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).resolve().parent / "jupyterhub_config.py"
PROXY = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"

# The hubs `make run` starts, each with its public port as an offset from the site's port
# (site on 8000: hub-1 on 8101, hub-2 on 8201; each also takes the two ports after its own).
LOCAL_HUBS = {"hub-1": 101, "hub-2": 201}


# What a hub inherits from the environment of whoever starts it (the site's, under `make run`):
# the system's and Python's basics and QUANTHUB_* values, never the site's secrets
# (SECRET_KEY, NOTEBOOK_ENCRYPTION_KEYS, DATABASE_URL, ...).
HUB_ENV_KEEP = {
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TERM",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "QUANTSITE_VAR_DIR",  # where the site's state is on this machine (hidden from servers)
}
HUB_ENV_KEEP_PREFIXES = ("LC_", "PYTHON", "QUANTHUB_", "JUPYTERHUB_")


def hub_environment(environ) -> dict[str, str]:
    """The part of ``environ`` a hub may inherit (see HUB_ENV_KEEP)."""
    return {
        name: value
        for name, value in environ.items()
        if name in HUB_ENV_KEEP or name.startswith(HUB_ENV_KEEP_PREFIXES)
    }


@dataclass
class LocalHub:
    name: str
    port: int  # public (proxy) port; the hub API and proxy API use port+1 and port+2
    state_dir: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(
        self,
        *,
        site_url: str,
        client_id: str,
        client_secret: str,
        extra_env: dict[str, str] | None = None,
        log=None,
    ) -> "LocalHub":
        """Start JupyterHub for this hub as a child process in a session of its own (its
        discovery service registers it with the site); ``log`` takes its output."""
        env = self._prepare(site_url, client_id, client_secret, extra_env)
        self.process = subprocess.Popen(
            self.command(env),
            cwd=self.state_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            start_new_session=True,  # signals come from whoever started it, not the terminal
        )
        return self

    def exec(self, *, site_url: str, client_id: str, client_secret: str) -> None:
        """Replace this process with JupyterHub for this hub (never returns): whoever runs
        this process (honcho) signals JupyterHub itself, which stops its servers and tells
        discovery it stops."""
        env = self._prepare(site_url, client_id, client_secret, None)
        sys.stdout.flush()
        sys.stderr.flush()
        os.chdir(self.state_dir)
        os.execve(sys.executable, self.command(env), env)  # noqa: S606 (no shell by design)

    def command(self, env: dict[str, str]) -> list[str]:
        """JupyterHub with the config file QUANTHUB_HUB_CONFIG (e.g. hubs/isolated/), else ours."""
        config = env.get("QUANTHUB_HUB_CONFIG") or str(CONFIG)
        return [sys.executable, "-m", "jupyterhub", "-f", config]

    def environment(
        self,
        *,
        site_url: str,
        client_id: str,
        client_secret: str,
        extra_env: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """JupyterHub's environment: what it may inherit (HUB_ENV_KEEP) and its QUANTHUB_*
        settings for this hub, then ``extra_env``."""
        return {
            **hub_environment(os.environ),
            "QUANTHUB_SITE_URL": site_url,
            "QUANTHUB_HUB_URL": self.url,
            "QUANTHUB_CLIENT_ID": client_id,
            "QUANTHUB_CLIENT_SECRET": client_secret,
            "QUANTHUB_STATE_DIR": str(self.state_dir),
            "QUANTHUB_HUB_API_PORT": str(self.port + 1),
            "QUANTHUB_PROXY_API_PORT": str(self.port + 2),
            # The simple spawner runs servers as this OS user; as root they need --allow-root.
            "QUANTHUB_ALLOW_ROOT": "1" if os.geteuid() == 0 else "",
            # Servers find node-less JupyterLab and this Python on PATH.
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            **(extra_env or {}),
        }

    def _prepare(self, site_url, client_id, client_secret, extra_env) -> dict[str, str]:
        """Check the proxy is installed, make the state directory; the hub's environment."""
        if not PROXY.exists():
            raise RuntimeError(f"{PROXY} is missing: run `npm ci` in {ROOT}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return self.environment(
            site_url=site_url,
            client_id=client_id,
            client_secret=client_secret,
            extra_env=extra_env,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the hub answers /hub/health; RuntimeError if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            try:
                with urlopen(f"{self.url}/hub/health", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (URLError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer at {self.url} within {timeout} s")

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, as an orchestrator would; the hub stops its servers and services."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        """SIGKILL the hub, as a crash would: the hub and its managed services (its process
        group) die; the proxy and the users' servers, in sessions of their own, keep running
        for a restarted hub to adopt. ``cleanup`` ends those."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def processes(self) -> list[int]:
        """Every running process this hub started, through any of its restarts: found in
        /proc by what they share with the hub whatever their session: a working directory in
        the hub's state directory (hub, proxy, services, servers, kernels), or an environment
        naming the hub's state directory or its API port (servers and kernels elsewhere)."""
        state = str(self.state_dir.resolve())
        markers = (
            f"QUANTHUB_STATE_DIR={state}".encode(),
            f"127.0.0.1:{self.port + 1}/hub/api".encode(),
        )
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cwd = os.readlink(entry / "cwd")
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue  # gone, or not ours to read
            if cwd == state or cwd.startswith(state + "/") or any(m in environ for m in markers):
                found.append(int(entry.name))
        return found

    def cleanup(self, timeout: float = 10) -> None:
        """Stop the hub (SIGTERM), then SIGKILL whatever it left: the proxy and servers of a
        hub that was killed, or that did not stop them in time (``make test`` leaves none)."""
        self.stop(timeout=timeout)
        killed = self.processes()
        for pid in killed:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        # Until each has exited (its sockets closed): a process in the middle of exiting may
        # no longer show what processes() matches it by.
        deadline = time.monotonic() + timeout
        while (self.processes() or any(map(_running, killed))) and time.monotonic() < deadline:
            time.sleep(0.1)

    def clean(self) -> None:
        shutil.rmtree(self.state_dir, ignore_errors=True)


def _running(pid: int) -> bool:
    """The process exists and has not exited (a zombie has closed everything it held)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


def register(manage_py: Path, name: str, url: str, env: dict[str, str] | None = None) -> dict:
    """`manage.py register_hub NAME --url URL --rotate-secret`: the hub's credentials."""
    result = subprocess.run(
        [sys.executable, str(manage_py), "register_hub", name, "--url", url, "--rotate-secret"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return json.loads(result.stdout)


def free_port_block(size: int = 3) -> int:
    """A port p with p..p+size-1 free on 127.0.0.1 (hub proxy, hub API, proxy API)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + size > 65535:
            continue
        try:
            sockets = []
            for offset in range(size):
                sock = socket.socket()
                sock.bind(("127.0.0.1", base + offset))
                sockets.append(sock)
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    raise RuntimeError("no free block of ports")


# -- `python -m hubs.local run NAME`: one local hub of `make run` (Procfile) --------------------


def local_hub(name: str, site_url: str) -> LocalHub:
    """The local hub ``name`` (a key of LOCAL_HUBS) beside the site at ``site_url``: its port
    is the site's plus the hub's offset, its state in QUANTSITE_VAR_DIR (default var/)/hubs/."""
    site_port = urlsplit(site_url).port or 80
    var_dir = Path(os.environ.get("QUANTSITE_VAR_DIR") or ROOT / "var")
    return LocalHub(name, site_port + LOCAL_HUBS[name], var_dir / "hubs" / name)


def wait_for_site(site_url: str, timeout: float = 60) -> None:
    """Until the site answers /healthz with 200; SystemExit after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urlopen(f"{site_url}/healthz", timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the site did not answer at {site_url} within {timeout} s")


def run(name: str, site_url: str) -> None:
    """Wait for the site, register hub ``name`` (a new client secret), become its JupyterHub."""
    hub = local_hub(name, site_url)
    wait_for_site(site_url)
    credentials = register(ROOT / "manage.py", hub.name, hub.url)
    print(f"{hub.name} registered at {hub.url}; starting JupyterHub", flush=True)
    hub.exec(
        site_url=site_url,
        client_id=credentials["client_id"],
        client_secret=credentials["client_secret"],
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``run NAME``, NAME one of LOCAL_HUBS (argparse refuses others: exit status 2)."""
    parser = argparse.ArgumentParser(
        prog="python -m hubs.local", description="Run one local hub of `make run`."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser(
        "run",
        help="Wait for the site (SITE_URL, default http://127.0.0.1:8000), register the hub, "
        "then exec JupyterHub.",
    )
    run_parser.add_argument("name", choices=list(LOCAL_HUBS), help="Which local hub.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    site_url = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    run(args.name, site_url)


if __name__ == "__main__":
    main()
