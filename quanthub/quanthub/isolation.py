"""Each user's server under an OS account of that user's own; spawners that do not are refused.

Under one OS account every process can read every other's ``/proc/<pid>/environ``: any user's
terminal would take any other user's notebook credential (``QUANTHUB_CONTENTS_TOKEN``) and
hub token. And a spawner that runs hub user ``x``'s server as the machine's account ``x``
(JupyterHub's default, LocalProcessSpawner) hands whoever signs up on the site as ``root``,
``postgres`` or an administrator's name a server running as that account. So a hub refuses
both kinds unless the operator opts in by name (``Quanthub.allow_shared_identity`` for one
person developing alone, ``Quanthub.allow_machine_accounts`` for machines whose accounts are
provisioned for exactly the site's users), and ships :class:`IsolatedSpawner` for one machine:
one account per hub user, ``qs-<name>``, made on first spawn for that user only.

How a spawner is judged: a spawner class may declare ``quanthub_shared_identity`` (it runs
every user's server as one OS account) and ``quanthub_machine_accounts`` (it runs a hub user's
server as the machine's account of that name), each ``True`` or ``False``. Without a
declaration, JupyterHub's ``SimpleLocalProcessSpawner`` and its subclasses share one account,
the other subclasses of ``LocalProcessSpawner`` use machine accounts, and every other spawner
(KubeSpawner, DockerSpawner, ...) does neither.
"""

import asyncio
import ctypes
import grp
import hashlib
import inspect
import os
import pwd
import re
import subprocess
import sys
from importlib import import_module
from importlib.metadata import entry_points

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Bool, Integer, List, Unicode, validate

SHARED_IDENTITY_HELP = (
    "every user's server would run as one OS account, so any user could read any other's "
    "notebook credential from /proc/<pid>/environ. Use one account per user: the isolated "
    "single-machine recipe (hubs/isolated/, spawner quanthub.isolation.IsolatedSpawner) or "
    "KubeSpawner. For one person developing alone, opt in with "
    "c.Quanthub.allow_shared_identity = True (QUANTHUB_ALLOW_SHARED_IDENTITY=1)."
)
MACHINE_ACCOUNTS_HELP = (
    "it runs each hub user's server as this machine's account of the same name, so whoever "
    "signs up on the site under the name of an account here (an administrator's, a "
    "service's) would get a server running as that account. Use "
    "quanthub.isolation.IsolatedSpawner (hubs/isolated/: accounts qs-<name>, made for hub "
    "users only) or KubeSpawner. If this machine's accounts are provisioned for exactly the "
    "site's users, opt in with c.Quanthub.allow_machine_accounts = True "
    "(QUANTHUB_ALLOW_MACHINE_ACCOUNTS=1)."
)


class UnisolatedSpawnerError(RuntimeError):
    """The spawner does not run each user's server as an account of that user's own."""


class SharedIdentityError(UnisolatedSpawnerError):
    """A spawner runs every user's server as one OS account and the operator did not opt in."""


class MachineAccountsError(UnisolatedSpawnerError):
    """A spawner runs servers as the machine's accounts named like hub users, not opted in."""


def spawner_class_of(value) -> type | None:
    """The class a ``JupyterHub.spawner_class`` value names (as JupyterHub resolves it).

    ``value`` is a class, an entry-point name (``"simple"``, ``"localprocess"``) or a dotted
    import path; ``None`` (unset) means JupyterHub's default, LocalProcessSpawner.
    """
    if value is None:
        return LocalProcessSpawner
    if isinstance(value, type):
        return value
    if isinstance(value, str):
        for entry in entry_points(group="jupyterhub.spawners"):
            if entry.name.lower() == value.lower():
                return entry.load()
        module, _, name = value.rpartition(".")
        if module:
            return getattr(import_module(module), name)
    raise ValueError(f"JupyterHub.spawner_class {value!r} names no spawner class")


def shares_os_identity(spawner_class: type) -> bool:
    """True if the spawner runs every user's server as one OS account (see the module doc)."""
    declared = getattr(spawner_class, "quanthub_shared_identity", None)
    if declared is not None:
        return bool(declared)
    from jupyterhub.spawner import SimpleLocalProcessSpawner

    return issubclass(spawner_class, SimpleLocalProcessSpawner)


def uses_machine_accounts(spawner_class: type) -> bool:
    """True if the spawner runs a hub user's server as the machine's account of that name
    (see the module doc)."""
    declared = getattr(spawner_class, "quanthub_machine_accounts", None)
    if declared is not None:
        return bool(declared)
    return issubclass(spawner_class, LocalProcessSpawner) and not shares_os_identity(spawner_class)


def refuse_unisolated_spawner(
    spawner_class: type, *, allow_shared_identity: bool, allow_machine_accounts: bool
) -> None:
    """Raise :class:`SharedIdentityError` or :class:`MachineAccountsError` (saying why and
    what to use) for a spawner that does not give each user an account of their own, unless
    the operator opted in to that kind."""
    name = f"{spawner_class.__module__}.{spawner_class.__name__}"
    if shares_os_identity(spawner_class) and not allow_shared_identity:
        raise SharedIdentityError(f"quanthub refuses the spawner {name}: " + SHARED_IDENTITY_HELP)
    if uses_machine_accounts(spawner_class) and not allow_machine_accounts:
        raise MachineAccountsError(f"quanthub refuses the spawner {name}: " + MACHINE_ACCOUNTS_HELP)


def refusing_unisolated_spawner(hook, **allowed: bool):
    """A ``Spawner.pre_spawn_hook`` that first applies :func:`refuse_unisolated_spawner` to the
    spawner (``allowed``: its opt-ins), then runs ``hook``.

    The check at spawn catches a ``spawner_class`` set after ``quanthub.configure(c)``; the
    spawn fails with the reason (shown to the user, logged for the operator).
    """

    async def pre_spawn_hook(spawner) -> None:
        refuse_unisolated_spawner(type(spawner), **allowed)
        if hook is not None:
            result = hook(spawner)
            if inspect.isawaitable(result):
                await result

    return pre_spawn_hook


# An account name is at most 32 characters (useradd) of a conservative alphabet.
_ACCOUNT_NAME_MAX = 32
_SAFE_NAME = re.compile(r"[a-z0-9_][a-z0-9_-]*\Z")


def account_name(username: str, prefix: str = "qs-") -> str:
    """The OS account that runs ``username``'s server: ``qs-<username>``.

    A username that is not a safe account name (characters outside ``a-z0-9_-``, or too long)
    becomes ``qs-<its safe part>-<10 hex digits of its SHA-256>``. Two hub users could still
    meet on one name only by choosing it on purpose; :meth:`IsolatedSpawner.ensure_account`
    refuses an account made for another user, so that meets a refusal, never a shared account.
    """
    if _SAFE_NAME.match(username) and len(prefix) + len(username) <= _ACCOUNT_NAME_MAX:
        return prefix + username
    digest = hashlib.sha256(username.encode()).hexdigest()[:10]
    stem = re.sub(r"[^a-z0-9_-]+", "_", username.lower())
    stem = stem[: _ACCOUNT_NAME_MAX - len(prefix) - len(digest) - 1]
    return f"{prefix}{stem}-{digest}"


def account_comment(username: str) -> str:
    """The account's comment (GECOS): which hub user it was made for, as a hash (any
    characters of a username are safe in it this way)."""
    return "quanthub " + hashlib.sha256(username.encode()).hexdigest()


class AccountRefused(RuntimeError):
    """``qs-<name>`` exists but was not made by this hub for this user."""


# Unix sockets of a database and Redis on this machine, which a firewall by uid does not see.
DEFAULT_INACCESSIBLE_PATHS = (
    "/run/postgresql",
    "/var/run/postgresql",
    "/run/redis",
    "/var/run/redis",
)

# Linux constants for the server's own mount namespace (see IsolatedSpawner.make_preexec_fn).
_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 0x4000, 1 << 18
_O_PATH = getattr(os, "O_PATH", 0o10000000)
TMP = "/tmp"  # noqa: S108 (each server's is private: a tmpfs of its own)


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def server_software(tmp: str = TMP) -> list[str]:
    """The directories of the software a server runs (the hub's Python environment, where
    ``jupyterhub-singleuser`` and JupyterLab are installed, and quanthub's own package with its
    Jupyter config) that lie under ``tmp``: a private ``/tmp`` would hide them, so they are
    bound back into it, read-only."""
    package = os.path.dirname(os.path.realpath(__file__))
    paths = {os.path.realpath(sys.prefix), os.path.realpath(sys.exec_prefix), package}
    return _outermost(p for p in paths if _under(p, tmp) and os.path.isdir(p))


def _outermost(paths) -> list[str]:
    """The paths not inside another of them (a directory under a hidden one is hidden too, and
    cannot be mounted over once its parent is)."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(_under(path, k) for k in kept):
            kept.append(path)
    return kept


class IsolatedSpawner(LocalProcessSpawner):
    """LocalProcessSpawner with one system account per hub user, made on first spawn.

    The server of hub user ``alice`` runs as ``qs-alice`` (see :func:`account_name`): a
    regular account (never ``useradd --system``) with a uid in ``uid_min..uid_max`` (a range
    of its own, so a firewall can fence the servers by uid), no password, shell
    ``/usr/sbin/nologin``, a private group, membership in ``account_group``, and a home
    ``homes_dir/qs-alice`` of mode 0700. An existing account is used only if this spawner
    made it for this user (member of ``account_group``, uid in the range, comment naming the
    user); any other account of that name is refused, so no server ever runs as an account of
    the machine.

    Each server also gets a mount namespace of its own, in which ``inaccessible_paths`` (the
    database's and Redis's Unix sockets, which a firewall does not see) are empty and
    unreadable and ``/tmp`` is private (the server's own software, when installed under
    ``/tmp``, stays visible in it, read-only: :func:`server_software`). Needs root (the hub
    runs as root).

    The environment: LocalProcessSpawner passes only ``env_keep`` (PATH, LANG, ...) of the
    hub's own environment, plus ``Spawner.environment`` and the server's own tokens; the hub's
    and the site's secrets are not inherited.
    """

    quanthub_shared_identity = False
    quanthub_machine_accounts = False

    account_prefix = Unicode(
        "qs-", config=True, help="Prefix of the OS accounts made for hub users (qs-<name>)."
    )
    account_group = Unicode(
        "quanthub-users",
        config=True,
        help="Group every account made by this spawner belongs to (made if missing); an "
        "account of the same name outside it is never used.",
    )
    uid_min = Integer(
        70000,
        config=True,
        help="Lowest uid of the accounts made for hub users. The range is the servers' own: "
        "above the ordinary accounts useradd hands out (UID_MAX 60000) and below the "
        "subordinate ids (100000+), so a firewall rule by uid range matches servers only.",
    )
    uid_max = Integer(79999, config=True, help="Highest uid of the accounts made for hub users.")
    homes_dir = Unicode(
        "/var/lib/quanthub/homes",
        config=True,
        help="Where the accounts' home directories are made (each 0700, owned by its account). "
        "Not under /tmp, which each server sees privately.",
    )
    inaccessible_paths = List(
        Unicode(),
        list(DEFAULT_INACCESSIBLE_PATHS),
        config=True,
        help="Directories a server sees empty and unreadable: the Unix sockets of the site's "
        "database and Redis (a firewall by uid does not cover them), and any of the site's "
        "state on this machine. Missing ones are skipped.",
    )
    terminal_shell = Unicode(
        "/bin/bash",
        config=True,
        help="The shell of the server's terminals (its SHELL); the account's own login shell is "
        "/usr/sbin/nologin, which would close every terminal at once.",
    )
    private_tmp = Bool(True, config=True, help="Give each server a private, empty /tmp.")
    private_tmp_size = Unicode("1g", config=True, help="Size limit of the private /tmp (tmpfs).")

    @validate("uid_min", "uid_max")
    def _valid_uid(self, proposal):
        if proposal["value"] < 1000:
            raise ValueError(
                f"IsolatedSpawner.{proposal['trait'].name} must be 1000 or more (below are "
                "the system's own accounts)"
            )
        return proposal["value"]

    @property
    def account(self) -> str:
        return account_name(self.user.name, self.account_prefix)

    def ensure_account(self) -> pwd.struct_passwd:
        """The account for this spawner's user, made if missing; idempotent.

        Raises :class:`AccountRefused` if an account of that name exists but is not one this
        spawner made for this user, or if the uid range is misconfigured.
        """
        if self.uid_max < self.uid_min:
            raise AccountRefused("IsolatedSpawner.uid_max is below uid_min")
        name = self.account
        comment = account_comment(self.user.name)
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            entry = self._create_account(name, comment)
        self._check_ours(entry, comment)
        home = entry.pw_dir
        if not os.path.isdir(self.homes_dir):
            os.makedirs(self.homes_dir)
            # Each account reaches its own home through it and lists nothing.
            os.chmod(self.homes_dir, 0o711)  # noqa: S103
        if not os.path.isdir(home):
            os.mkdir(home, 0o700)
            os.chown(home, entry.pw_uid, entry.pw_gid)
        owner = os.stat(home).st_uid
        if owner != entry.pw_uid:
            # Left by an earlier account of that name, whose uid another account may now have.
            raise AccountRefused(
                f"The home {home} of {name} belongs to uid {owner}, not to {name}; "
                "remove it (or move it aside) before this user's server can start."
            )
        os.chmod(home, 0o700)
        return entry

    def _create_account(self, name: str, comment: str) -> pwd.struct_passwd:
        subprocess.run(["groupadd", "-f", self.account_group], check=True, capture_output=True)
        bounds = [
            f"UID_MIN={self.uid_min}",
            f"UID_MAX={self.uid_max}",
            f"GID_MIN={self.uid_min}",
            f"GID_MAX={self.uid_max}",
        ]
        command = ["useradd", "--no-create-home", "--home-dir", f"{self.homes_dir}/{name}"]
        command += ["--shell", "/usr/sbin/nologin", "--user-group", "--groups", self.account_group]
        command += ["--comment", comment]
        for bound in bounds:
            command += ["-K", bound]
        result = subprocess.run([*command, name], capture_output=True, text=True)
        if result.returncode != 0:
            raise AccountRefused(f"useradd {name} failed: {result.stderr.strip()}")
        self.log.info("Made the account %s for %s", name, self.user.name)
        return pwd.getpwnam(name)

    def _check_ours(self, entry: pwd.struct_passwd, comment: str) -> None:
        try:
            members = grp.getgrnam(self.account_group).gr_mem
        except KeyError:
            members = []
        problems = []
        if entry.pw_name not in members:
            problems.append(f"not in the group {self.account_group}")
        if not (max(self.uid_min, 1000) <= entry.pw_uid <= self.uid_max):
            problems.append(f"uid {entry.pw_uid} outside {self.uid_min}-{self.uid_max}")
        if entry.pw_gecos != comment:
            problems.append(f"not made for the hub user {self.user.name}")
        if problems:
            raise AccountRefused(
                f"The account {entry.pw_name} exists but was not made by quanthub for "
                f"{self.user.name} ({'; '.join(problems)}); refusing to run the server as it. "
                f"Remove or rename that account, or change IsolatedSpawner.account_prefix."
            )

    async def start(self):
        if os.geteuid() != 0:
            raise AccountRefused(
                "IsolatedSpawner needs the hub to run as root: it makes accounts and starts "
                "each server as its own."
            )
        self._entry = await asyncio.to_thread(self.ensure_account)
        return await super().start()

    def user_env(self, env):
        entry = self._entry
        env["USER"] = entry.pw_name
        env["HOME"] = entry.pw_dir
        env["SHELL"] = self.terminal_shell
        return env

    def make_preexec_fn(self, name):
        """Run as the user's account (not the hub user's name), in its own mount namespace."""
        become_account = set_user_setuid(self._entry.pw_name)
        hidden = _outermost(
            os.path.realpath(p) for p in self.inaccessible_paths if os.path.isdir(p)
        )
        private_tmp = self.private_tmp
        kept = server_software() if private_tmp else []
        tmp_options = f"mode=1777,size={self.private_tmp_size}".encode()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]

        def mount(source: bytes | None, target: bytes, kind: bytes | None, flags: int, data):
            if libc.mount(source, target, kind, flags, data) != 0:
                raise OSError(ctypes.get_errno(), f"mount {target.decode()}")

        def keep_visible(path: str, handle: int) -> None:
            """Bind the directory open as ``handle`` (from before /tmp was covered) at
            ``path`` in the private /tmp, read-only; the directories leading to it are made
            traversable by the server's account."""
            parts = path.strip("/").split("/")
            for depth in range(2, len(parts) + 1):
                step = "/" + "/".join(parts[:depth])
                if not os.path.isdir(step):
                    os.mkdir(step)
                    os.chmod(step, 0o755)  # noqa: S103 (empty directories on the way)
            target = path.encode()
            mount(f"/proc/self/fd/{handle}".encode(), target, None, _MS_BIND | _MS_REC, None)
            flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
            mount(None, target, None, flags, None)
            os.close(handle)

        def preexec():
            # After fork, before exec, still root. A failure here fails the spawn: a server
            # never starts with the sockets visible or as root.
            if libc.unshare(_CLONE_NEWNS) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
            # Mounts made below stay in this namespace, not the machine's.
            mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None)
            if private_tmp:
                handles = [os.open(path, _O_PATH | os.O_DIRECTORY) for path in kept]
                mount(b"tmpfs", TMP.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, tmp_options)
                for path, handle in zip(kept, handles, strict=True):
                    keep_visible(path, handle)
            # Hidden last, so that nothing bound back above uncovers them.
            for path in hidden:
                if os.path.isdir(path):
                    flags = _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
                    mount(b"tmpfs", path.encode(), b"tmpfs", flags, b"size=4k,mode=000")
            become_account()

        return preexec

    async def move_certs(self, paths):
        raise NotImplementedError("IsolatedSpawner does not support JupyterHub.internal_ssl")
