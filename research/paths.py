"""Paths in a user's notebook store: one normal form, checked once, for every layer.

A path is relative to the user's root ("" is the root), "/"-separated, without empty, "." or
".." parts; names are at most ``MAX_NAME`` characters and the whole at most ``MAX_PATH``.
"""

import re

from research.exceptions import InvalidPath

MAX_NAME, MAX_PATH = 255, 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Lone surrogates are not Unicode characters: no UTF-8 encoding, so no name or text holds one.
SURROGATE = re.compile("[\ud800-\udfff]")


def path_normalize(path: str) -> str:
    """``"a/b/c.ipynb"`` from an API path ("/a//b/c.ipynb/" alike); ``InvalidPath`` for
    traversal, control characters, lone surrogates, names or paths too long."""
    if not isinstance(path, str):
        raise InvalidPath("A path must be a string.")
    if _CONTROL.search(path):
        raise InvalidPath("A path cannot contain control characters.")
    if SURROGATE.search(path):
        raise InvalidPath("A path cannot contain lone surrogates (not Unicode characters).")
    parts = [part for part in path.split("/") if part]
    if any(part in {".", ".."} for part in parts):
        raise InvalidPath(f"A path cannot contain '.' or '..' components: {path!r}")
    if any(len(part) > MAX_NAME for part in parts):
        raise InvalidPath(f"A name is longer than {MAX_NAME} characters.")
    normalized = "/".join(parts)
    if len(normalized) > MAX_PATH:
        raise InvalidPath(f"The path is longer than {MAX_PATH} characters.")
    return normalized


def path_split(path: str) -> tuple[str, str]:
    """``(parent, name)`` of a normalized path: ``("a/b", "c.ipynb")``; the root's parent is ""."""
    parent, _, name = path.rpartition("/")
    return parent, name


def path_join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name
