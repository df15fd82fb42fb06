"""The restore drill (deploy/backup.py), short: a throwaway cluster of its own on loopback,
its WAL streamed synchronously into an archive, the primary SIGKILLed while writers commit,
a restore into a fresh cluster. ``bench/backup_drill.py`` is the longer run."""

import pytest

from deploy.backup import DRILL_PARENT, DRILL_PREFIX, drill
from quantsite.tests.processes import processes_mentioning


@pytest.mark.live
def test_every_acknowledged_commit_survives_the_loss_of_the_primary():
    before = set(DRILL_PARENT.glob(f"{DRILL_PREFIX}*"))

    result = drill(writers=3, before_loss=2.0, after_loss=0.5)

    assert result.receiver == "sync"
    assert result.acknowledged > 100  # the writers did commit before the loss
    assert result.missing == 0
    assert result.failed_after_loss > 0  # they kept writing to a primary that was gone
    assert result.wal_bytes > 0
    assert set(DRILL_PARENT.glob(f"{DRILL_PREFIX}*")) == before  # its directory is gone
    assert processes_mentioning(DRILL_PREFIX) == []  # and its processes
