"""Backups of the topology's PostgreSQL that lose no acknowledged commit: continuous archiving
with a base backup, and a restore drill that proves it.

How it works:

- **The WAL archive is fed synchronously.** ``pg_receivewal --synchronous`` streams the
  cluster's WAL into ``backup/wal/`` over a physical replication slot (so the primary keeps any
  WAL the archive has not yet got), fsyncs what it receives and reports the position at once.
  The cluster runs with ``synchronous_standby_names`` naming the receiver (its
  ``application_name``, :data:`RECEIVER_NAME`) and the default ``synchronous_commit = on``, so
  a ``COMMIT`` returns to the client only once its WAL is on the archive's disk: a commit the
  site acknowledged (a save answered 200) is in the archive even if the primary's disk is lost
  a moment later.
- **Why not ``archive_command`` alone.** PostgreSQL hands a WAL segment to ``archive_command``
  only once the segment is complete (16 MB) or ``archive_timeout`` forces a switch. Commits are
  acknowledged as soon as they are on the primary's own disk, so everything committed in the
  segment being filled (up to ``archive_timeout`` seconds of saves, plus a segment whose copy
  was under way) lives only on the primary until then; lose the primary and those acknowledged
  saves are gone.
- **The base backup** is ``pg_basebackup`` (plain format, WAL streamed alongside, a fast
  checkpoint) into ``backup/base/<UTC time>/``; take one regularly (the WAL needed to restore
  is every segment since the newest base backup; ``pg_archivecleanup`` prunes the rest).
- **Restore** copies a base backup into a fresh data directory, sets ``restore_command`` to
  copy from the archive (the segment being written when the primary was lost is kept as
  ``<name>.partial`` by ``pg_receivewal``; it is served under its own name when no complete one
  exists), adds ``recovery.signal`` and starts the copy on a port of its own: it replays every
  segment, reaches the end of the archived WAL and promotes itself onto a new timeline.

The price of the guarantee: while the receiver is not streaming, commits wait (writes stall;
nothing acknowledged is lost). Two further caveats any synchronous replication has: a commit
whose wait is *cancelled* (``statement_timeout``, a client's cancel) returns with a WARNING
although its WAL may not be archived, so the drill counts such a commit as unacknowledged;
and a commit whose client saw an error may or may not be in the restored copy (in doubt, never
acknowledged). On loopback the archive is only another directory of the same disk; in
production the receiver runs on another machine (or writes to another volume), which is what
makes it survive the primary's disk. The slot keeps WAL on the primary for as long as the
receiver is away: retiring the backup means ``SELECT pg_drop_replication_slot(
'quantsite_backup')`` too.

``postgres_start`` (``deploy/topology.py``) starts the receiver right after the cluster and
before ``createdb``, not from the Procfile: the release step (migrations) commits before honcho
starts anything, and its commits would wait for a receiver not yet there.

``python -m deploy.backup base`` takes a base backup of the running topology (``make
run-prod`` starts the receiver with the cluster); ``restore`` restores the newest one next to
it, on ``--port``; ``drill`` runs the drill on a throwaway cluster of its own (temporary
directory, free ports; not the topology), as ``bench/backup_drill.py`` and
``quantsite/tests/test_backup_drill.py`` do.
"""

import argparse
import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from deploy.topology import (
    Topology,
    _as_db_user,
    _chown_to_db_user,
    _pg_bin,
    topology_from_environment,
)

RECEIVER_NAME = "quantsite_backup"  # its application_name, and its replication slot's name
# The drill's directories: under /tmp whatever TMPDIR says, so the postgres user reaches them.
DRILL_PARENT = Path("/tmp")  # noqa: S108
DRILL_PREFIX = "qs-backup-drill-"


# Paths of the topology's backups ------------------------------------------------------------


def wal_archive(topology: Topology) -> Path:
    return topology.root / "backup" / "wal"


def base_backups(topology: Topology) -> Path:
    return topology.root / "backup" / "base"


def topology_receiver_start(topology: Topology) -> None:
    """The topology's receiver, started by ``postgres_start`` as soon as the cluster runs
    (before anything commits: with the cluster's synchronous settings, a commit waits for it),
    its pid kept in ``backup/receiver.pid`` for :func:`topology_receiver_stop`. A receiver of
    an earlier run still alive is stopped first (two on one slot would not do)."""
    topology_receiver_stop(topology)
    try:
        receiver = receiver_start(
            port=topology.pg_port,
            archive=wal_archive(topology),
            log=topology.root / "logs" / "backup.log",
        )
    except RuntimeError as error:
        raise SystemExit(f"the backup receiver did not start: {error}") from error
    (topology.root / "backup" / "receiver.pid").write_text(f"{receiver.pid}\n")


def topology_receiver_stop(topology: Topology) -> None:
    """Stops the receiver ``topology_receiver_start`` started, if it still runs (after the
    cluster has stopped, so that it has the shutdown checkpoint)."""
    pidfile = topology.root / "backup" / "receiver.pid"
    try:
        pid = int(pidfile.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ValueError):
        pidfile.unlink(missing_ok=True)
        return
    if b"pg_receivewal" in cmdline:  # not a later process that reuses the pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGINT)
        stop_group(pid, 0)  # signal 0: only wait for it to exit
        stop_group(pid)
    pidfile.unlink(missing_ok=True)


def topology_base_backup_ensure(topology: Topology) -> None:
    """A first base backup, if the topology has none (the archive restores nothing without
    one); later ones are the operator's (``python -m deploy.backup base``, e.g. nightly)."""
    if not any(base_backups(topology).glob("*")):
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        try:
            base_backup_take(port=topology.pg_port, target=base_backups(topology) / stamp)
        except RuntimeError as error:
            raise SystemExit(f"the first base backup failed: {error}") from error


# Commands -------------------------------------------------------------------------------------


def synchronous_options() -> str:
    """The ``pg_ctl -o`` options that make every commit wait for the receiver's fsync."""
    return f"-c synchronous_standby_names={RECEIVER_NAME} -c synchronous_commit=on"


def receiver_command(*, port: int, archive: Path) -> list[str]:
    """``pg_receivewal`` streaming the cluster on ``port`` into ``archive`` over the slot
    :data:`RECEIVER_NAME` (made by :func:`receiver_slot_create`), reporting each flush at once;
    it reconnects by itself when the connection drops."""
    connection = f"host=127.0.0.1 port={port} user=postgres application_name={RECEIVER_NAME}"
    return [
        *_as_db_user(),
        _pg_bin("pg_receivewal"),
        "-d",
        connection,
        "-D",
        str(archive),
        "--slot",
        RECEIVER_NAME,
        "--synchronous",
        "--no-password",
    ]


def receiver_slot_create(*, port: int) -> None:
    """The receiver's physical replication slot, made once (no commit: it never waits)."""
    subprocess.run(
        [
            *_as_db_user(),
            _pg_bin("pg_receivewal"),
            "-d",
            f"host=127.0.0.1 port={port} user=postgres",
            "--slot",
            RECEIVER_NAME,
            "--create-slot",
            "--if-not-exists",
            "--no-password",
        ],
        check=True,
        capture_output=True,
    )


def receiver_start(*, port: int, archive: Path, log: Path) -> subprocess.Popen:
    """The receiver, in a process group of its own, once it streams: from then on, on a cluster
    started with :func:`synchronous_options`, commits are acknowledged only once archived.
    Raises ``RuntimeError`` if it does not stream within 30 s."""
    archive.mkdir(parents=True, exist_ok=True)
    _chown_to_db_user(archive)
    receiver_slot_create(port=port)
    log.touch()
    with log.open("ab") as output:
        receiver = subprocess.Popen(
            receiver_command(port=port, archive=archive),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if receiver.poll() is not None:
            raise RuntimeError(f"pg_receivewal exited ({receiver.returncode}); see {log}")
        if receiver_state(port=port) in ("sync", "async"):
            return receiver
        time.sleep(0.2)
    stop_group(receiver.pid)
    raise RuntimeError(f"pg_receivewal is not streaming after 30 s; see {log}")


def receiver_state(*, port: int) -> str | None:
    """``sync`` while the receiver streams as the synchronous standby, ``async`` while it
    streams without commits waiting for it, ``None`` while it does not stream."""
    return _sql(
        port,
        "SELECT sync_state FROM pg_stat_replication"
        " WHERE state = 'streaming' AND application_name = %s",
        (RECEIVER_NAME,),
    )


def receiver_stop(receiver: subprocess.Popen) -> None:
    """SIGINT: it flushes what it has and exits (the current segment stays ``.partial``)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(receiver.pid, signal.SIGINT)
    try:
        receiver.wait(timeout=10)
    except subprocess.TimeoutExpired:
        stop_group(receiver.pid)
        receiver.wait(timeout=10)


def base_backup_take(*, port: int, target: Path) -> Path:
    """A base backup of the cluster on ``port`` into the new directory ``target`` (plain
    format, its WAL streamed alongside so it is consistent by itself, a fast checkpoint).
    Raises ``RuntimeError`` with pg_basebackup's message if it fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _chown_to_db_user(target.parent)
    taken = subprocess.run(
        [
            *_as_db_user(),
            _pg_bin("pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "--no-password",
            "-D",
            str(target),
            "-X",
            "stream",
            "--checkpoint=fast",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if taken.returncode != 0:
        raise RuntimeError(f"pg_basebackup failed: {taken.stderr.strip()}")
    return target


def restore_command(archive: Path) -> str:
    """Copies WAL file ``%f`` from the archive, or the receiver's ``%f.partial`` (the segment
    it was writing when the primary was lost) when no complete one exists; fails otherwise,
    which ends recovery."""
    wal = shlex.quote(str(archive))
    return f'cp {wal}/"%f" "%p" 2>/dev/null || cp {wal}/"%f.partial" "%p"'


def restore(*, base: Path, archive: Path, data: Path, port: int, log: Path) -> float:
    """A fresh cluster in ``data`` (which must not exist) from the base backup ``base`` and the
    WAL in ``archive``, started on ``port`` and promoted at the end of the archived WAL.
    Returns the seconds from the copy's start to a promoted, writable cluster. The cluster is
    left running (stop it with ``pg_ctl -D <data> stop``); it waits for no receiver (the
    primary's synchronous settings are ``pg_ctl`` options, not in its files)."""
    started = time.monotonic()
    shutil.copytree(base, data, symlinks=True)
    data.chmod(0o700)
    (data / "postmaster.pid").unlink(missing_ok=True)
    (data / "recovery.signal").touch()
    quoted = restore_command(archive).replace("'", "''")
    with (data / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"restore_command = '{quoted}'\n")
    _chown_to_db_user(data)
    cluster_start(data=data, port=port, log=log)
    deadline = time.monotonic() + 300
    while _sql(port, "SELECT pg_is_in_recovery()") != "f":
        if time.monotonic() > deadline:
            raise RuntimeError(f"the restored cluster is still recovering after 300 s; see {log}")
        time.sleep(0.1)
    return time.monotonic() - started


# Clusters -----------------------------------------------------------------------------------


def cluster_init(data: Path) -> None:
    """A new cluster in ``data`` (made if absent), owned by the database's OS user."""
    data.mkdir(parents=True, exist_ok=True)
    _chown_to_db_user(data)
    data.chmod(0o700)
    subprocess.run(
        [
            *_as_db_user(),
            _pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )


def cluster_start(*, data: Path, port: int, log: Path, options: str = "") -> int:
    """Starts the cluster in ``data`` on 127.0.0.1:``port`` (no Unix socket) and returns its
    postmaster's pid."""
    log.touch()
    _chown_to_db_user(log)
    subprocess.run(
        [
            *_as_db_user(),
            _pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "300",
            "-o",
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
            + options,
            "start",
        ],
        check=True,
        capture_output=True,
    )
    return postmaster_pid(data)


def postmaster_pid(data: Path) -> int:
    return int((data / "postmaster.pid").read_text().split("\n", 1)[0])


def cluster_kill(data: Path) -> None:
    """SIGKILL to the cluster's postmaster and all its children at once (each child leads a
    session of its own, so no one process group holds them), then removes the shared memory
    segment and the ``postmaster.pid`` it leaves behind; nothing if it does not run (a stale
    ``postmaster.pid`` whose pid another process now has is left alone)."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ValueError, IndexError):
        return
    if str(data).encode() not in command:
        return
    os.kill(pid, signal.SIGSTOP)  # it forks no new child while its children are listed
    family = [pid, *_children(pid)]
    for member in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)
    for member in family:
        stop_group(member, 0)  # signal 0: only wait for it to be gone
    if len(lines) > 6 and len(lines[6].split()) == 2:
        subprocess.run(["ipcrm", "-m", lines[6].split()[1]], capture_output=True, check=False)
    (data / "postmaster.pid").unlink(missing_ok=True)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def stop_group(pid: int, number: int = signal.SIGKILL, timeout: float = 10) -> None:
    """``number`` to the process group ``pid`` leads, waiting (up to ``timeout``) for its
    leader to be gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, number)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaps it when it is our child
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            return
        if state == "Z":
            return  # dead, its parent not yet having reaped it
        time.sleep(0.05)


def _sql(port: int, query: str, params: tuple = ()) -> str | None:
    """The first column of the first row, or ``None`` when the server does not answer."""
    import psycopg

    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2
        ) as conn:
            row = conn.execute(query, params).fetchone()
    except psycopg.OperationalError:
        return None
    if row is None:
        return None
    value = row[0]
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def backup_start_lsn(base: Path) -> int:
    """Where the base backup's WAL starts (its ``backup_label``): restoring replays from here."""
    for line in (base / "backup_label").read_text().splitlines():
        if line.startswith("START WAL LOCATION:"):
            return _lsn(line.split()[3])
    raise ValueError(f"no START WAL LOCATION in {base / 'backup_label'}")


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


# The drill ----------------------------------------------------------------------------------


@dataclasses.dataclass
class DrillResult:
    receiver: str  # the receiver's sync_state: "sync" (commits wait for it) or "async"
    writers: int
    acknowledged: int  # commits whose COMMIT returned (without a cancelled-wait WARNING)
    missing: int  # acknowledged commits absent from the restored cluster, or altered
    in_doubt: int  # commits whose client saw an error (present or not: never acknowledged)
    in_doubt_present: int
    failed_after_loss: int  # attempts refused once the primary was gone
    restore_seconds: float
    wal_bytes: int  # WAL archived from the base backup's start to the end of timeline 1
    archive_bytes: int  # the archive's size on disk (segments are preallocated: 16 MB each)
    write_seconds: float

    def lines(self) -> list[str]:
        rate = self.acknowledged / self.write_seconds if self.write_seconds else 0.0
        return [
            f"receiver                     {self.receiver}",
            f"writers                      {self.writers}",
            f"acknowledged commits         {self.acknowledged} ({rate:.0f}/s before the loss)",
            f"missing after restore        {self.missing}",
            f"in doubt (client saw error)  {self.in_doubt} ({self.in_doubt_present} present)",
            f"refused after the loss       {self.failed_after_loss}",
            f"restore time                 {self.restore_seconds:.2f} s",
            f"WAL since the base backup    {self.wal_bytes} bytes"
            f" (archive on disk: {self.archive_bytes} bytes)",
        ]


class _Writer(threading.Thread):
    """Inserts rows (id, payload, sha) one autocommit transaction at a time until told to stop,
    recording each acknowledged commit; after an error it reconnects and goes on."""

    def __init__(self, number: int, port: int, stop: threading.Event):
        super().__init__(name=f"writer-{number}", daemon=True)
        self.number, self.port, self.stop = number, port, stop
        self.acknowledged: dict[int, str] = {}
        self.in_doubt: set[int] = set()
        self.failed_after_loss = 0

    def run(self) -> None:
        import psycopg

        sequence = 0
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(
                        host="127.0.0.1",
                        port=self.port,
                        user="postgres",
                        dbname="drill",
                        autocommit=True,
                        connect_timeout=1,
                    )
                    warned: list[str] = []
                    conn.add_notice_handler(
                        lambda notice, w=warned: w.append(notice.message_primary)
                    )
            except psycopg.OperationalError:
                self.failed_after_loss += 1
                time.sleep(0.05)
                continue
            sequence += 1
            row_id = self.number * 1_000_000_000 + sequence
            payload = secrets.token_hex(100)
            sha = hashlib.sha256(payload.encode()).hexdigest()
            warned.clear()
            try:
                conn.execute(
                    "INSERT INTO acked (id, payload, sha) VALUES (%s, %s, %s)",
                    (row_id, payload, sha),
                )
            except psycopg.Error:
                self.in_doubt.add(row_id)
                with contextlib.suppress(psycopg.Error):
                    conn.close()
                continue
            if any("synchronous replication" in message for message in warned):
                self.in_doubt.add(row_id)  # committed locally, its archiving not awaited
            else:
                self.acknowledged[row_id] = sha
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()


def drill(
    *,
    writers: int = 4,
    before_loss: float = 5.0,
    after_loss: float = 1.0,
    synchronous: bool = True,
) -> DrillResult:
    """The scenario, on loopback in a temporary directory, on free ports: a throwaway cluster
    streamed synchronously into a WAL archive, a base backup, ``writers`` writers committing
    rows for ``before_loss`` seconds, then every process of the primary SIGKILLed while
    they keep writing for ``after_loss`` seconds more, the receiver stopped, and a restore into
    a fresh cluster checked for every acknowledged commit. ``synchronous=False`` is the control:
    the same archive, streamed, with commits not waiting for it. Every process and directory it
    made is gone when it returns or raises."""
    import psycopg

    work = Path(tempfile.mkdtemp(prefix=DRILL_PREFIX, dir=DRILL_PARENT))
    _chown_to_db_user(work)
    primary, restored = work / "primary", work / "restored"
    archive, base = work / "wal", work / "base"
    receiver = None
    try:
        port = free_port()
        restored_port = free_port()
        while restored_port == port:
            restored_port = free_port()
        cluster_init(primary)
        cluster_start(
            data=primary,
            port=port,
            log=work / "primary.log",
            options=synchronous_options() if synchronous else "",
        )
        receiver = receiver_start(port=port, archive=archive, log=work / "receiver.log")
        state = receiver_state(port=port)
        base_backup_take(port=port, target=base)
        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE drill")
        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="drill", autocommit=True
        ) as conn:
            conn.execute(
                "CREATE TABLE acked (id bigint PRIMARY KEY, payload text NOT NULL,"
                " sha text NOT NULL)"
            )

        stop = threading.Event()
        team = [_Writer(number, port, stop) for number in range(1, writers + 1)]
        began = time.monotonic()
        for writer in team:
            writer.start()
        time.sleep(before_loss)
        cluster_kill(primary)  # the primary is lost, every process of it, writers mid-commit
        write_seconds = time.monotonic() - began
        time.sleep(after_loss)
        stop.set()
        for writer in team:
            writer.join(timeout=30)
        receiver_stop(receiver)
        receiver = None

        restore_seconds = restore(
            base=base,
            archive=archive,
            data=restored,
            port=restored_port,
            log=work / "restored.log",
        )
        with psycopg.connect(
            host="127.0.0.1", port=restored_port, user="postgres", dbname="drill"
        ) as conn:
            present = dict(
                conn.execute(
                    "SELECT id, sha FROM acked WHERE sha = encode(sha256(payload::bytea), 'hex')"
                ).fetchall()
            )
        history = sorted(restored.joinpath("pg_wal").glob("*.history"))
        end_lsn = _lsn(history[-1].read_text().split()[1]) if history else 0
        acknowledged = {k: v for writer in team for k, v in writer.acknowledged.items()}
        in_doubt = set().union(*(writer.in_doubt for writer in team))
        return DrillResult(
            receiver=state or "gone",
            writers=writers,
            acknowledged=len(acknowledged),
            missing=sum(1 for k, v in acknowledged.items() if present.get(k) != v),
            in_doubt=len(in_doubt),
            in_doubt_present=len(in_doubt & present.keys()),
            failed_after_loss=sum(writer.failed_after_loss for writer in team),
            restore_seconds=restore_seconds,
            wal_bytes=end_lsn - backup_start_lsn(base) if end_lsn else 0,
            archive_bytes=sum(p.stat().st_size for p in archive.iterdir() if p.is_file()),
            write_seconds=write_seconds,
        )
    finally:
        if receiver is not None:
            stop_group(receiver.pid)
        cluster_kill(primary)
        cluster_kill(restored)
        shutil.rmtree(work, ignore_errors=True)


# The CLI ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("base", help="a base backup of the running topology")
    restoring = commands.add_parser(
        "restore", help="the newest base backup and the archive into a fresh cluster, left running"
    )
    restoring.add_argument("--port", type=int, default=None, help="default: the topology's + 1")
    drilling = commands.add_parser("drill", help="the restore drill on a throwaway cluster")
    drilling.add_argument("--writers", type=int, default=4)
    drilling.add_argument("--seconds", type=float, default=5.0, help="writing before the loss")
    drilling.add_argument(
        "--asynchronous", action="store_true", help="the control: commits do not wait"
    )
    args = parser.parse_args(argv)

    if args.command == "drill":
        # SIGTERM stops it as Ctrl-C does: the drill's cleanup runs.
        signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
        result = drill(
            writers=args.writers, before_loss=args.seconds, synchronous=not args.asynchronous
        )
        print("\n".join(result.lines()))
        return 0 if result.missing == 0 else 1
    topology = topology_from_environment()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    if args.command == "base":
        try:
            target = base_backup_take(port=topology.pg_port, target=base_backups(topology) / stamp)
        except RuntimeError as error:
            raise SystemExit(str(error)) from error
        print(f"base backup in {target}")
        return 0
    bases = sorted(base_backups(topology).glob("*"))
    if not bases:
        raise SystemExit(f"no base backup in {base_backups(topology)}: run `base` first")
    port = args.port or topology.pg_port + 1
    data = topology.root / "backup" / f"restored-{stamp}"
    seconds = restore(
        base=bases[-1],
        archive=wal_archive(topology),
        data=data,
        port=port,
        log=topology.root / "logs" / f"restored-{stamp}.log",
    )
    print(
        f"restored {bases[-1].name} and the archive into {data} in {seconds:.1f} s; promoted, on"
        f" 127.0.0.1:{port}. Stop it with: {' '.join(_as_db_user())} "
        f"{_pg_bin('pg_ctl')} -D {data} stop"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
