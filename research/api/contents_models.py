"""Jupyter's contents models over the notebook store: what ``/api/contents`` reads and answers.

A model is jupyter_server's dict (``name``, ``path``, ``type``, ``format``, ``mimetype``,
``content``, ``created``, ``last_modified``, ``size``, ``writable``, ``hash``,
``hash_algorithm``; ISO dates with "Z", text or base64 content, guessed mimetypes), so any
Jupyter contents client works against the API. Here models are read (every field's JSON type
checked before use, content decoded) into calls of the store's services and selectors, and
the entries they return are presented as models. Errors are the store's
(``research.exceptions``); ``quantsite.api`` maps them to Jupyter's statuses.

A notebook can also be saved and read as its file's bytes (``NOTEBOOK_MEDIA_TYPE``), which
quanthub's manager asks for: ``model_save_notebook_file`` stores the bytes it is given,
``model_get_notebook_file`` gives back the stored bytes beside the model without content.
"""

import base64
import binascii
import datetime as dt
import hashlib
import mimetypes

from quantsite.accounts.models import User
from research.exceptions import InvalidModel, InvalidPath, IsADirectory, NotADirectory
from research.models import ContentCheckpoint, ContentEntry
from research.notebook_format import notebook_bytes, notebook_parse, text_bytes
from research.paths import SURROGATE, path_normalize, path_split
from research.selectors.notebooks import EntrySummary, directory_list, entry_data, entry_get
from research.services.notebooks import (
    directory_create,
    entry_copy,
    file_save,
    notebook_file_save,
    notebook_save,
    untitled_create,
    upload_chunk_save,
)

DIRECTORY = ContentEntry.Type.DIRECTORY
NOTEBOOK_TYPES = ("notebook", "file", "directory")
FORMATS = ("json", "text", "base64")
# A notebook as its file: the bytes Jupyter's file manager writes to disk.
NOTEBOOK_MEDIA_TYPE = "application/x-ipynb+json"

# -- presenting --------------------------------------------------------------------------------


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _base_model(path: str, *, created, last_modified, size) -> dict:
    return {
        "name": path_split(path)[1],
        "path": path,
        "last_modified": iso(last_modified),
        "created": iso(created),
        "content": None,
        "format": None,
        "mimetype": None,
        "size": size,
        "writable": True,
        "hash": None,
        "hash_algorithm": None,
        "type": None,
    }


def _is_notebook(path: str, type: str | None) -> bool:
    return type == "notebook" or (type is None and path.endswith(".ipynb"))


def model_get(
    *,
    user: User,
    path: str,
    content: bool = True,
    type: str | None = None,
    format: str | None = None,
    require_hash: bool = False,
    include_hidden: bool = False,
) -> dict:
    """The model at ``path`` (jupyter_server's ``ContentsManager.get``): ``NoSuchEntry`` if
    absent; ``InvalidModel``, ``IsADirectory``, ``NotADirectory`` if it is not of the ``type``
    asked, or cannot be given in the ``format`` asked; ``BadNotebook`` if unreadable."""
    path = path_normalize(path)
    _get_check(type, format)
    entry = entry_get(user=user, path=path, with_content=content or require_hash) if path else None
    if entry is None or entry.type == DIRECTORY:
        if type not in (None, "directory"):
            raise IsADirectory(f"{path} is a directory, not a {type}")
        return directory_model(
            user=user, path=path, entry=entry, content=content, include_hidden=include_hidden
        )
    if type == "directory":
        raise NotADirectory(f"{path} is not a directory")
    if _is_notebook(path, type):
        return notebook_model(entry, content=content, require_hash=require_hash)
    return file_model(entry, content=content, format=format, require_hash=require_hash)


def _get_check(type: str | None, format: str | None) -> None:
    if type not in (None, *NOTEBOOK_TYPES):
        raise InvalidModel(f"Unknown type {type!r}")
    if format not in (None, "text", "base64"):
        raise InvalidModel(f"Unknown format {format!r}")


def model_get_notebook_file(
    *,
    user: User,
    path: str,
    type: str | None = None,
    format: str | None = None,
    require_hash: bool = False,
) -> tuple[dict, bytes] | None:
    """``model_get`` of a notebook with its content, as its file: ``(model, data)``, the model
    without content (with the hash if ``require_hash``) and the notebook file's plain bytes as
    stored, neither parsed nor encoded again. None where ``model_get``'s answer would not be a
    notebook (the root, a directory, a file not named or asked as one): the caller answers
    ``model_get``'s model. Errors as ``model_get``'s, but bytes that are no notebook are given
    as they are (the reader parses them, and says "Unreadable Notebook")."""
    path = path_normalize(path)
    _get_check(type, format)
    if not path or not _is_notebook(path, type):
        return None
    entry = entry_get(user=user, path=path, with_content=True)
    if entry.type == DIRECTORY:
        return None
    data = entry_data(entry=entry)
    model = notebook_model(entry, content=False, require_hash=False)
    if require_hash:
        model.update(_hash_fields(data))
    return model, data


def saved_model(entry: ContentEntry) -> dict:
    """The model a write answers with: ``entry`` without content, its type from its name."""
    if entry.type == DIRECTORY:
        model = _base_model(
            entry.path, created=entry.created, last_modified=entry.last_modified, size=None
        )
        model["type"] = "directory"
        return model
    if _is_notebook(entry.path, None):
        return notebook_model(entry, content=False, require_hash=False)
    return file_model(entry, content=False, format=None, require_hash=False)


def directory_model(
    *, user: User, path: str, entry: ContentEntry | None, content: bool, include_hidden: bool
) -> dict:
    """A directory's model (``entry`` None: the root, dated when the user joined), listing its
    entries (without content) if ``content``."""
    created = entry.created if entry else user.date_joined
    modified = entry.last_modified if entry else user.date_joined
    model = _base_model(path, created=created, last_modified=modified, size=None)
    model["type"] = "directory"
    if content:
        children = directory_list(user=user, path=path, include_hidden=include_hidden)
        model["content"] = [listing_model(child) for child in children]
        model["format"] = "json"
    return model


def listing_model(child: EntrySummary) -> dict:
    model = _base_model(
        child.path, created=child.created, last_modified=child.last_modified, size=child.size
    )
    if child.type == DIRECTORY:
        model["type"] = "directory"
    elif child.name.endswith(".ipynb"):
        model["type"] = "notebook"
    else:
        model["type"] = "file"
        model["mimetype"] = mimetypes.guess_type(child.name)[0]
    return model


def _hash_fields(data: bytes) -> dict:
    return {"hash": hashlib.sha256(data).hexdigest(), "hash_algorithm": "sha256"}


def notebook_model(entry: ContentEntry, *, content: bool, require_hash: bool) -> dict:
    model = _base_model(
        entry.path, created=entry.created, last_modified=entry.last_modified, size=entry.size
    )
    model["type"] = "notebook"
    if content or require_hash:
        data = entry_data(entry=entry)
        if content:
            model["content"] = notebook_parse(data, path=entry.path)
            model["format"] = "json"
        if require_hash:
            model.update(_hash_fields(data))
    return model


def file_model(
    entry: ContentEntry, *, content: bool, format: str | None, require_hash: bool
) -> dict:
    """A file's model: its content as text if asked or if it is UTF-8, else base64."""
    model = _base_model(
        entry.path, created=entry.created, last_modified=entry.last_modified, size=entry.size
    )
    model["type"] = "file"
    model["mimetype"] = mimetypes.guess_type(entry.name)[0]
    if content or require_hash:
        data = entry_data(entry=entry)
        if content:
            model["content"], model["format"] = _file_content(data, format, entry.path)
            if model["mimetype"] is None:
                model["mimetype"] = (
                    "text/plain" if model["format"] == "text" else "application/octet-stream"
                )
        if require_hash:
            model.update(_hash_fields(data))
    return model


def _file_content(data: bytes, format: str | None, path: str) -> tuple[str, str]:
    if format in (None, "text"):
        try:
            return data.decode("utf-8"), "text"
        except UnicodeDecodeError:
            if format == "text":
                raise InvalidModel(f"{path} is not UTF-8 encoded") from None
    return base64.encodebytes(data).decode("ascii"), "base64"


def checkpoint_model(checkpoint: ContentCheckpoint) -> dict:
    return {"id": str(checkpoint.pk), "last_modified": iso(checkpoint.created)}


# -- reading what is sent ----------------------------------------------------------------------


# The fields of a contents model that the API reads, with the JSON type each must have.
_MODEL_FIELDS = {
    "type": str,
    "format": str,
    "path": str,
    "name": str,
    "copy_from": str,
    "ext": str,
    "chunk": int,
}
_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


def checked_model(model) -> dict:
    """``model`` if it is a JSON object whose fields have their JSON types (``"type"`` a
    string among the three kinds, ``"chunk"`` an integer, ...); ``InvalidModel`` naming the
    field otherwise. Every write reads the model through this first, so no field is used
    before its type is known (a list where a string belongs is a clear 400, not a 500)."""
    if not isinstance(model, dict):
        raise InvalidModel("The body must be a contents model (a JSON object).")
    for field, expected in _MODEL_FIELDS.items():
        value = model.get(field)
        if value is None:
            continue
        if not isinstance(value, expected) or isinstance(value, bool):
            raise InvalidModel(f"'{field}' must be {_TYPE_NAMES[expected]}.")
        if isinstance(value, str) and SURROGATE.search(value):
            raise InvalidModel(f"'{field}' contains a lone surrogate.")
    if model.get("type") is not None and model["type"] not in NOTEBOOK_TYPES:
        raise InvalidModel(f"Unknown type {model['type']!r}: use one of {NOTEBOOK_TYPES}.")
    if model.get("format") is not None and model["format"] not in FORMATS:
        raise InvalidModel(f"Unknown format {model['format']!r}: use one of {FORMATS}.")
    return model


def _file_bytes(model: dict, path: str) -> bytes:
    """The bytes a file model's text or base64 content stands for."""
    body, fmt = model.get("content"), model.get("format")
    if not isinstance(body, str):
        raise InvalidModel("A file's content must be a string.")
    if fmt == "base64":
        try:
            return base64.b64decode(body.encode("ascii"), validate=False)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise InvalidModel(f"Invalid base64 content for {path}") from None
    if fmt not in (None, "text"):
        raise InvalidModel(f"Unknown format {fmt!r}: use 'text' or 'base64'.")
    return text_bytes(body, "The text")


def model_save(*, user: User, path: str, model) -> tuple[dict, bool]:
    """PUT (jupyter_server's ``save``): create or replace the entry at ``path`` from a model;
    ``(model without content, created)``. A ``chunk`` (1, 2, ..., -1 for the last) is one part
    of a large upload (``upload_chunk_save``)."""
    path = path_normalize(path)
    if "type" not in checked_model(model):
        raise InvalidModel("No file type provided")
    if path == "":
        raise InvalidPath("The root directory cannot be saved over.")
    kind, chunk = model["type"], model.get("chunk")
    if kind == "directory":
        entry, created = directory_create(user=user, path=path)
        return saved_model(entry), created
    if "content" not in model:
        raise InvalidModel("No file content provided")
    if kind == "notebook" and chunk is None:
        entry, created = notebook_save(user=user, path=path, notebook=model["content"])
    elif kind == "notebook":
        data = notebook_bytes(model["content"])
        entry, created = upload_chunk_save(
            user=user, path=path, data=data, chunk=chunk, notebook=True
        )
    elif kind == "file" and chunk is None:
        entry, created = file_save(user=user, path=path, data=_file_bytes(model, path))
    elif kind == "file":
        data = _file_bytes(model, path)
        entry, created = upload_chunk_save(user=user, path=path, data=data, chunk=chunk)
    else:
        raise InvalidModel(f"Unhandled contents type: {kind}")
    return saved_model(entry), created


def model_save_notebook_file(*, user: User, path: str, data: bytes) -> tuple[dict, bool]:
    """PUT of a notebook as its file (``NOTEBOOK_MEDIA_TYPE``): create or replace the notebook
    at ``path`` with ``data``, checked and stored as it is (``notebook_file_save``); ``(model
    without content, created)``, as ``model_save`` answers."""
    path = path_normalize(path)
    if path == "":
        raise InvalidPath("The root directory cannot be saved over.")
    entry, created = notebook_file_save(user=user, path=path, data=data)
    return saved_model(entry), created


def model_new(*, user: User, path: str, model) -> dict:
    """POST (jupyter_server's ``new_untitled`` and ``copy``): a new untitled file, notebook or
    directory in directory ``path``, or a copy (``{"copy_from": path}``) into it; the new
    model without content."""
    directory = path_normalize(path)
    checked_model(model)
    if model.get("copy_from"):
        entry = entry_copy(user=user, from_path=model["copy_from"], to_path=directory)
    else:
        kind = model.get("type", "file")
        entry = untitled_create(user=user, directory=directory, kind=kind, ext=model.get("ext"))
    return saved_model(entry)
