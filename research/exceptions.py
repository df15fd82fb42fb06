from django.conf import settings

from quantsite.exceptions import ApplicationError


class NoHubAvailable(ApplicationError):
    """No live, active hub has a free seat. Temporary: hubs start, recover and free seats."""

    status_code = 503

    def __init__(self, message: str = "No research server can take you right now."):
        super().__init__(message)
        self.retry_after = settings.DISCOVERY_RETRY_AFTER


class HubCredentialRejected(ApplicationError):
    """No valid hub credential: an unknown or expired token, or a disabled application's."""

    status_code = 401

    def __init__(self, message: str = "The discovery credential is not valid."):
        super().__init__(message)


class HubNotRecognized(ApplicationError):
    """The credential is valid but is not a hub's discovery credential."""

    status_code = 403


class HubConflict(ApplicationError):
    """The hub asked for something its current state does not allow."""

    status_code = 409


class HubInvalid(ApplicationError):
    """What the hub or operator sent does not describe a valid hub."""

    status_code = 400


class HubNotAllowed(ApplicationError):
    """The hub asked for something about a user it does not hold."""

    status_code = 403


# -- the notebook store ------------------------------------------------------------------------
# Raised by research.services.notebooks, research.selectors.notebooks and the contents API's
# model layer. They carry no HTTP status: ``quantsite.api.error_status`` maps each to the one
# jupyter_server's own contents manager answers for the case, in one table.


class NotebookStoreError(ApplicationError):
    """The base of the notebook store's refusals (``except NotebookStoreError`` catches all)."""


class InvalidPath(NotebookStoreError):
    """A path that names nothing a store may hold: traversal, control characters, lone
    surrogates, names or paths too long, or the root where an entry is needed."""


class InvalidModel(NotebookStoreError):
    """A request that is malformed: a contents model's field of the wrong type, an unknown
    type or format, content that does not decode, a chunk out of sequence."""


class BadNotebook(InvalidModel):
    """A notebook that is not one the store can write or read (nbformat 4 only)."""


class NoSuchEntry(NotebookStoreError):
    """No file, directory or checkpoint at the path (or id) asked for, in the caller's space."""


class EntryExists(NotebookStoreError):
    """The target path is taken (or a concurrent save created it first, or no free name is
    left)."""


class IsADirectory(NotebookStoreError):
    """A file operation on a directory."""


class NotADirectory(NotebookStoreError):
    """A directory operation on a file."""


class DirectoryNotEmpty(NotebookStoreError):
    """A non-recursive delete of a directory that holds entries."""


class TooLarge(NotebookStoreError):
    """A file over ``NOTEBOOK_MAX_FILE_BYTES`` (``size`` its logical bytes)."""

    def __init__(self, size: int):
        limit = settings.NOTEBOOK_MAX_FILE_BYTES
        super().__init__(
            f"The file is {size} bytes; the largest file this site stores is {limit} bytes."
        )
        self.size = size


class CopyTooLarge(NotebookStoreError):
    """A copy whose files add up to more than ``NOTEBOOK_MAX_COPY_BYTES``."""

    def __init__(self, path: str, size: int):
        super().__init__(f"{path} is too large to copy ({size} bytes).")
        self.size = size


class QuotaExceeded(NotebookStoreError):
    """A write that would take the user's stored bytes past ``NOTEBOOK_USER_QUOTA_BYTES``:
    ``used`` the bytes they store now, ``needed`` the bytes the write would add, ``quota``
    the bytes they may store (see ``research.services.quota``)."""

    def __init__(self, *, used: int, needed: int, quota: int):
        super().__init__(
            f"Not enough storage space: this needs {_bytes(needed)} more, and you use "
            f"{_bytes(used)} of your {_bytes(quota)}. Delete files or checkpoints to make room."
        )
        self.used, self.needed, self.quota = used, needed, quota


def _bytes(size: int) -> str:
    """``size`` as a person reads it: "1,536 bytes (1.5 KiB)"."""
    exact = f"{size:,} byte{'' if size == 1 else 's'}"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size / scale >= 0.9995:  # what reads as "1.0" already
            return f"{exact} ({size / scale:.1f} {unit})"
    return exact
