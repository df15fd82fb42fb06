"""Restore drill: no acknowledged commit is lost when the primary is.

On loopback, in a temporary directory, on free ports (never the topology's or the test
suite's cluster): a throwaway PostgreSQL cluster whose WAL ``pg_receivewal --synchronous``
streams into an archive (the cluster names it in ``synchronous_standby_names``), a base backup,
writers committing rows (id, payload, sha256) in autocommit and recording each acknowledged
commit; every process of the primary is SIGKILLed at once while they write, then the base backup
and the archive are restored into a fresh cluster, promoted at the end of the WAL, and every
acknowledged commit is looked up there (present, its sha matching its payload).

    .venv/bin/python bench/backup_drill.py [--writers 4] [--seconds 8] [--control]

Prints acknowledged commits, missing (the target is 0), in-doubt commits (a client saw an
error; never acknowledged, present or not), restore time and WAL archived. ``--control`` also
runs the same drill with commits not waiting for the archive (plain asynchronous streaming),
which may lose the last acknowledged commits and shows what the wait costs. Nothing asserts;
the process exits 1 if the synchronous drill missed a commit. See ``deploy/backup.py``.
"""

import argparse
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from deploy.backup import drill


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0, help="writing before the loss")
    parser.add_argument("--control", action="store_true", help="also the asynchronous control")
    args = parser.parse_args()
    # SIGTERM (a timeout, a supervisor) stops it as Ctrl-C does: the drill's cleanup runs.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))

    runs = [("synchronous archive (commits wait for pg_receivewal's fsync)", True)]
    if args.control:
        runs.append(("control: asynchronous streaming (commits do not wait)", False))
    missed = 0
    for label, synchronous in runs:
        result = drill(writers=args.writers, before_loss=args.seconds, synchronous=synchronous)
        print(f"\n{label}, {args.writers} writers, primary SIGKILLed after {args.seconds:g} s")
        print("\n".join(f"  {line}" for line in result.lines()), flush=True)
        if synchronous:
            missed = result.missing
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
