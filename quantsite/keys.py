"""The OIDC signing key of the embedded default: made by ``manage.py create_oidc_key`` (which
``make run`` runs), read by the settings when first needed.

In production the key comes from ``OIDC_RSA_PRIVATE_KEY`` instead, and nothing here is used.
"""

import contextlib
import functools
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import lazy

CREATE_COMMAND = "manage.py create_oidc_key"


def rsa_private_key_create(path: Path) -> bool:
    """Write a new 2048-bit RSA key (PKCS#8 PEM) at ``path`` unless a file is already there.

    Returns whether this call wrote it. Idempotent, and safe when several processes run it at
    once: the key is written to a temporary file and hard-linked into place, which fails if
    another process won, so there is only ever one key. The file is readable by its owner only
    (mkstemp's mode); a missing directory is made the same way.
    """
    if path.exists():
        return False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process won the race
            return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return True


@functools.cache  # success only: a missing key is looked for again on the next use
def rsa_private_key_read(path: Path) -> str:
    """The PEM text of the key at ``path``.

    Raises ``ImproperlyConfigured`` naming the command that makes it when there is no file.
    """
    try:
        return path.read_text()
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"No OIDC signing key at {path}: run `{CREATE_COMMAND}` (`make run` does), "
            "or set OIDC_RSA_PRIVATE_KEY."
        ) from None


# The key as a settings value read on first use, as Django's own settings take gettext_lazy
# strings: the test session and `make run` make the file after the settings are imported (the
# command that makes it runs under these settings).
rsa_private_key_lazy = lazy(rsa_private_key_read, str)
