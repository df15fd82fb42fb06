"""The OIDC signing key of the embedded default."""

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def rsa_private_key_pem(path: Path) -> str:
    """Return the PEM text of the RSA key at ``path``, generating a 2048-bit key on first use.

    Safe when several processes start at once (site, worker, beat): the key is written to a
    temporary file and hard-linked into place, which fails if another process won, and then
    everyone reads the one file that is there. The file is readable by its owner only.
    """
    try:
        return path.read_text()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
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
        with contextlib.suppress(FileExistsError):  # another process won the race
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return path.read_text()
