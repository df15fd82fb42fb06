"""Run the whole platform locally in the foreground; Ctrl-C stops all of it.

Started: the site (Django's development server). With ``REDIS_URL`` set, also a Celery worker
and Celery beat; without it, tasks run inline in the site and neither is needed.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()

    site_url = os.environ.setdefault("SITE_URL", f"http://{args.host}:{args.port}")
    commands = {"site": [PYTHON, "manage.py", "runserver", f"{args.host}:{args.port}"]}
    if os.environ.get("REDIS_URL"):
        celery = [PYTHON, "-m", "celery", "-A", "quantsite"]
        commands["worker"] = [*celery, "worker", "--loglevel=INFO", "--concurrency=2"]
        commands["beat"] = [
            *celery,
            "beat",
            "--loglevel=INFO",
            "--schedule",
            "var/celerybeat-schedule",
        ]

    processes = {name: subprocess.Popen(cmd, cwd=ROOT) for name, cmd in commands.items()}
    print(f"\nQuantsite is starting at {site_url}/ ({', '.join(processes)}).", flush=True)
    print(
        "Log in as demo / demo-password (staff: admin / admin-password). Ctrl-C stops.\n",
        flush=True,
    )

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping the rest.", flush=True)
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.3)

    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
