"""The hasher for OAuth client secrets (django-oauth-toolkit's ``CLIENT_SECRET_HASHER``)."""

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare, get_random_string


def _key(secret_key: str) -> bytes:
    # A key of its own for this purpose, derived from the site's secret key.
    return hashlib.sha256(f"quantsite.client-secret:{secret_key}".encode()).digest()


class ClientSecretHasher(BasePasswordHasher):
    """Salted HMAC-SHA256, keyed with a key derived from ``SECRET_KEY``.

    For machine-generated client secrets only (128 random characters, far beyond brute force),
    where a slow hash such as PBKDF2 buys nothing and costs ~0.45 s at every token request
    (every hub login). Never used for people's passwords. A stolen database alone does not let
    anyone check guesses without the key. Secrets stay valid across a ``SECRET_KEY`` rotation
    while the old key is in ``SECRET_KEY_FALLBACKS``.
    """

    algorithm = "hmac_sha256"

    def salt(self) -> str:
        return get_random_string(22)

    def encode(self, password: str, salt: str, secret_key: str | None = None) -> str:
        self._check_encode_args(password, salt)
        key = _key(secret_key or settings.SECRET_KEY)
        digest = hmac.new(key, f"{salt}${password}".encode(), hashlib.sha256).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "salt": salt, "hash": digest}

    def verify(self, password: str, encoded: str) -> bool:
        salt = self.decode(encoded)["salt"]
        keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        return any(constant_time_compare(encoded, self.encode(password, salt, key)) for key in keys)

    def safe_summary(self, encoded: str) -> dict:
        decoded = self.decode(encoded)
        return {
            "algorithm": decoded["algorithm"],
            "salt": mask_hash(decoded["salt"], show=2),
            "hash": mask_hash(decoded["hash"]),
        }

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass
