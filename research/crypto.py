"""Optional encryption at rest of users' notebooks.

``NOTEBOOK_ENCRYPTION_KEYS`` lists master keys (Fernet keys, comma-separated, newest first).
Each user's key is derived from a master key with HKDF, so a stolen row of one user tells
nothing about another's. Every stored blob records the id of the master key that sealed it
(``key_id``; "" for plain text), so rotation (``manage.py rotate_notebook_keys``) can
re-encrypt row by row, be stopped, and resume.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def key_id(master_key: str) -> str:
    return hashlib.sha256(master_key.encode()).hexdigest()[:16]


def master_keys() -> list[str]:
    return list(settings.NOTEBOOK_ENCRYPTION_KEYS)


def current_key_id() -> str:
    keys = master_keys()
    return key_id(keys[0]) if keys else ""


@lru_cache(maxsize=4096)
def _user_fernet(master_key: str, user_id: int) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"quantsite-notebooks",
        info=f"user:{user_id}".encode(),
    ).derive(base64.urlsafe_b64decode(master_key))
    return Fernet(base64.urlsafe_b64encode(derived))


def _master_for(key: str) -> str:
    for master in master_keys():
        if key_id(master) == key:
            return master
    raise ImproperlyConfigured(
        f"A notebook is sealed with master key {key}, which is not in NOTEBOOK_ENCRYPTION_KEYS."
    )


def seal(user_id: int, data: bytes) -> tuple[bytes, str]:
    """``(stored bytes, key id)``: encrypted under the newest master key, or plain if none."""
    keys = master_keys()
    if not keys:
        return data, ""
    return _user_fernet(keys[0], user_id).encrypt(data), key_id(keys[0])


def unseal(user_id: int, data: bytes, key: str) -> bytes:
    if not key:
        return bytes(data)
    try:
        return _user_fernet(_master_for(key), user_id).decrypt(bytes(data))
    except InvalidToken as error:
        raise ImproperlyConfigured(f"Stored notebook does not decrypt with key {key}") from error


def reseal(user_id: int, data: bytes, key: str) -> tuple[bytes, str]:
    """Re-encrypt under the newest master key (MultiFernet.rotate); plain text gets sealed."""
    keys = master_keys()
    if not keys:
        return unseal(user_id, data, key), ""
    if not key:
        return seal(user_id, bytes(data))
    rotator = MultiFernet([_user_fernet(keys[0], user_id), _user_fernet(_master_for(key), user_id)])
    return rotator.rotate(bytes(data)), key_id(keys[0])
