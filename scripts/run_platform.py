"""Run the whole platform locally in the foreground; Ctrl-C stops all of it.

Started: the site (Django's development server), two JupyterHubs (hub-1 on port+101, hub-2 on
port+201), each registered with `register_hub` and logging in through the site; with
``REDIS_URL`` set, also a Celery worker and Celery beat (without it tasks run inline).

The hubs use hubs/jupyterhub_config.py, which opts in to JupyterHub's `simple` spawner: every
user's server runs as this OS account, for one person developing alone. As root,
``QUANTHUB_HUB_CONFIG=hubs/isolated/jupyterhub_config.py`` runs them with one OS account per
user instead (README, "Isolation").
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hubs.local import LocalHub, register  # noqa: E402

PYTHON = sys.executable


def wait_for_site(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the site exited while starting")
        try:
            with urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the site did not answer at {url} within {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--hubs", type=int, default=2, help="How many local hubs to start.")
    args = parser.parse_args()

    site_url = os.environ.setdefault("SITE_URL", f"http://{args.host}:{args.port}")
    processes: dict[str, subprocess.Popen] = {}
    hubs: list[LocalHub] = []
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        # Children get sessions of their own, so a Ctrl-C reaches only this runner, which
        # stops the hubs first (they tell the site they stop) and the site last.
        processes["site"] = subprocess.Popen(
            [PYTHON, "manage.py", "runserver", "--noreload", f"{args.host}:{args.port}"],
            cwd=ROOT,
            start_new_session=True,
        )
        if os.environ.get("REDIS_URL"):
            celery = [PYTHON, "-m", "celery", "-A", "quantsite"]
            processes["worker"] = subprocess.Popen(
                [*celery, "worker", "--loglevel=INFO", "--concurrency=2"],
                cwd=ROOT,
                start_new_session=True,
            )
            processes["beat"] = subprocess.Popen(
                [*celery, "beat", "--loglevel=INFO", "--schedule", "var/celerybeat-schedule"],
                cwd=ROOT,
                start_new_session=True,
            )
        wait_for_site(site_url, processes["site"])
        for number in range(1, args.hubs + 1):
            hub = LocalHub(
                f"hub-{number}",
                args.port + 100 * number + 1,
                ROOT / "var" / "hubs" / f"hub-{number}",
            )
            credentials = register(ROOT / "manage.py", hub.name, hub.url)
            hub.start(
                site_url=site_url,
                client_id=credentials["client_id"],
                client_secret=credentials["client_secret"],
            )
            hubs.append(hub)
            processes[hub.name] = hub.process
        for hub in hubs:
            hub.wait_ready()
        print(f"\nQuantsite is running at {site_url}/ with {', '.join(processes)}.", flush=True)
        print(
            "Log in as demo / demo-password (staff: ops / ops-password), then open "
            f"{site_url}/research. Ctrl-C stops everything.\n",
            flush=True,
        )
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(
                        f"{name} exited with {process.returncode}; stopping the rest.", flush=True
                    )
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.3)
    finally:
        # Hubs first, so their discovery services can still tell the site they stop.
        for hub in hubs:
            hub.stop()
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
