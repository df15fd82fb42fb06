"""Where shared notebooks' files live (S3, or a folder in the embedded default), and the errors
every failure there becomes.

Every read and write of the store goes through ``store_immutable`` and ``stored_bytes``: a
failure of the store (a filesystem ``OSError``; botocore's connection, timeout and service
errors alike) is raised as ``StorageUnavailable`` (503 with ``Retry-After``: the request may
be tried again later), and an object that is not there as ``StoredFileMissing`` (404). The S3
client's timeouts and retries are bounded in settings (``AWS_S3_CLIENT_CONFIG``), so a hung
store fails a request within seconds instead of holding a worker.
"""

import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from s3transfer.exceptions import RetriesExceededError, S3DownloadFailedError, S3UploadFailedError

from quantsite.exceptions import ApplicationError

logger = logging.getLogger(__name__)

# What the store's clients raise when it fails: the filesystem, botocore (connection refused,
# timeouts, retries exhausted, credentials), boto3 and s3transfer (uploads and downloads).
STORE_ERRORS = (
    OSError,
    BotoCoreError,
    ClientError,
    Boto3Error,
    RetriesExceededError,
    S3DownloadFailedError,
    S3UploadFailedError,
)
MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


class StorageUnavailable(ApplicationError):
    """The file store failed or did not answer in time: try again later (503)."""

    status_code = 503

    def __init__(self, message: str = "The file store is unavailable; try again shortly."):
        super().__init__(message)
        self.retry_after = settings.STORAGE_RETRY_AFTER


class StoredFileMissing(ApplicationError):
    """The store answered, and the object is not there (404)."""

    status_code = 404

    def __init__(self, message: str = "This file is no longer stored."):
        super().__init__(message)


def storage() -> Storage:
    return storages["default"]


def _missing(error: Exception) -> bool:
    if isinstance(error, FileNotFoundError):
        return True
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code")) in MISSING_CODES
    return False


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turn any failure of the store during ``action`` into ``StoredFileMissing`` or
    ``StorageUnavailable``."""
    try:
        yield
    except STORE_ERRORS as error:
        if _missing(error):
            raise StoredFileMissing() from error
        logger.warning("The file store failed to %s: %r", action, error)
        raise StorageUnavailable() from error


def store_immutable(data: bytes, suffix: str) -> str:
    """Save ``data`` under a key named by its SHA-256 (once; the same bytes share one object)
    and return the key. Raises ``StorageUnavailable``."""
    key = f"shared/{hashlib.sha256(data).hexdigest()}{suffix}"
    with storage_errors(f"store {key}"):
        if not storage().exists(key):
            storage().save(key, ContentFile(data))
        else:
            _touch(key)
    return key


def _touch(key: str) -> None:
    """Mark an object already stored as written now. The sweep of objects no version
    references (community.services.storage_sweep) spares young ones only: a share about to
    reference an old unreferenced object (the same bytes as a deleted version's) must find it
    still there when it commits."""
    backend = storage()
    try:
        path = backend.path(key)
    except NotImplementedError:  # not a filesystem
        path = None
    if path is not None:
        os.utime(path)
        return
    bucket = getattr(backend, "bucket", None)
    if bucket is not None:  # django-storages' S3: copied onto itself, it is modified now
        name = backend._normalize_name(key)  # the key under the storage's location
        bucket.Object(name).copy_from(
            CopySource={"Bucket": bucket.name, "Key": name}, MetadataDirective="REPLACE"
        )


def stored_bytes(key: str) -> bytes:
    """The bytes stored under ``key``. Raises ``StoredFileMissing``, ``StorageUnavailable``."""
    with storage_errors(f"read {key}"), storage().open(key, "rb") as handle:
        return handle.read()
