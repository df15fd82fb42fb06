"""The topology drill (bench/topology_drill.py), short: the production topology on loopback
with 3 site copies behind HAProxy, hubs beating and users browsing, locating and saving
through it, one copy SIGKILLed and started again. The benchmark is the longer run."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from quantsite.tests.processes import processes_mentioning

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(tempfile.gettempdir()) / "qs-topology-drill-test"


@pytest.mark.live
def test_a_killed_site_copy_fails_no_get_and_comes_back_in_service(tmp_path):
    figures = tmp_path / "drill.json"
    ran = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "topology_drill.py"),
            "--root",
            str(STATE),
            "--hubs",
            "10",
            "--users",
            "40",
            "--period",
            "1",
            "--settle",
            "4",
            "--down",
            "4",
            "--scenarios",
            "kill-site",
            "--json",
            str(figures),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    result = json.loads(figures.read_text())
    killed = result["scenarios"]["kill-site"]
    sent, failed, _, kinds = killed["GET/HEAD (browser, no retry)"]

    assert sent > 50  # the users kept browsing while the copy was down
    assert (failed, kinds) == (0, {})  # HAProxy sent every GET and HEAD to a live copy
    assert killed["back in service after the kill"] != "never"
    assert result["checks"] == {
        "acknowledged saves missing": [],
        "users with two open assignments": 0,
        "hubs over capacity": 0,
    }
    assert not STATE.exists()  # its state directory is gone
    assert processes_mentioning(str(STATE)) == []  # and every process it started
