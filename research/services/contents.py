"""Users' files, notebooks and directories in PostgreSQL, with Jupyter's contents semantics.

The models returned are Jupyter contents models (``name``, ``path``, ``type``, ``format``,
``mimetype``, ``content``, ``created``, ``last_modified``, ``size``, ``writable``, ``hash``,
``hash_algorithm``), so any Jupyter contents client works against the API built on these.
Every function is scoped to one user: no path reaches another user's entries.

Errors are ``ContentsError`` with the HTTP status Jupyter's own manager uses for the case.
"""

import base64
import binascii
import datetime as dt
import hashlib
import json
import mimetypes
import re

import nbformat
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from quantsite.accounts.models import User
from quantsite.exceptions import ApplicationError
from research import crypto
from research.models import ContentCheckpoint, ContentEntry

DIRECTORY, FILE = ContentEntry.Type.DIRECTORY, ContentEntry.Type.FILE
MAX_NAME, MAX_PATH = 255, 1024
UNTITLED = {"notebook": "Untitled", "file": "untitled", "directory": "Untitled Folder"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Lone surrogates are not Unicode characters: no UTF-8 encoding, so no name or text holds one.
_SURROGATE = re.compile("[\ud800-\udfff]")
NOTEBOOK_TYPES = ("notebook", "file", "directory")
FORMATS = ("json", "text", "base64")


class ContentsError(ApplicationError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status_code = status


class TooLarge(ContentsError):
    def __init__(self, size: int):
        limit = settings.NOTEBOOK_MAX_FILE_BYTES
        super().__init__(
            413, f"The file is {size} bytes; the largest file this site stores is {limit} bytes."
        )


# -- paths -----------------------------------------------------------------------------------


def normalize_path(path: str) -> str:
    """``"a/b/c.ipynb"`` from an API path; 400 for traversal, control characters, long names."""
    if not isinstance(path, str):
        raise ContentsError(400, "A path must be a string.")
    if _CONTROL.search(path):
        raise ContentsError(400, "A path cannot contain control characters.")
    if _SURROGATE.search(path):
        raise ContentsError(400, "A path cannot contain lone surrogates (not Unicode characters).")
    parts = [part for part in path.split("/") if part]
    if any(part in {".", ".."} for part in parts):
        raise ContentsError(400, f"A path cannot contain '.' or '..' components: {path!r}")
    if any(len(part) > MAX_NAME for part in parts):
        raise ContentsError(400, f"A name is longer than {MAX_NAME} characters.")
    normalized = "/".join(parts)
    if len(normalized) > MAX_PATH:
        raise ContentsError(400, f"The path is longer than {MAX_PATH} characters.")
    return normalized


def _split(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return parent, name


# -- reading ---------------------------------------------------------------------------------


def _entry(user: User, path: str, *, with_content: bool = True) -> ContentEntry | None:
    entries = ContentEntry.objects.filter(user=user, path=path)
    # A notebook can be tens of megabytes: read its bytes only when they are asked for.
    return (entries if with_content else entries.defer("content")).first()


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _base_model(path: str, *, created, last_modified, size) -> dict:
    return {
        "name": _split(path)[1],
        "path": path,
        "last_modified": _iso(last_modified),
        "created": _iso(created),
        "content": None,
        "format": None,
        "mimetype": None,
        "size": size,
        "writable": True,
        "hash": None,
        "hash_algorithm": None,
        "type": None,
    }


def _bytes_of(entry: ContentEntry) -> bytes:
    return crypto.unseal(entry.user_id, entry.content, entry.key_id)


def content_bytes(*, user: User, path: str) -> tuple[str, bytes]:
    """A file's name and bytes (for downloads): 404 if absent, 400 for a directory."""
    path = normalize_path(path)
    entry = _entry(user, path) if path else None
    if entry is None:
        raise ContentsError(404, f"No such file: {path}")
    if entry.type == DIRECTORY:
        raise ContentsError(400, f"{path} is a directory")
    return entry.name, _bytes_of(entry)


def _is_notebook(path: str, type: str | None) -> bool:
    return type == "notebook" or (type is None and path.endswith(".ipynb"))


def content_get(
    *,
    user: User,
    path: str,
    content: bool = True,
    type: str | None = None,
    format: str | None = None,
    require_hash: bool = False,
    include_hidden: bool = False,
) -> dict:
    """The Jupyter model at ``path``: 404 if absent, 400 if it is not of the ``type`` asked."""
    path = normalize_path(path)
    if type not in (None, "directory", "file", "notebook"):
        raise ContentsError(400, f"Unknown type {type!r}")
    if format not in (None, "text", "base64"):
        raise ContentsError(400, f"Unknown format {format!r}")
    if path == "":
        return _dir_model(user, "", None, content=content, include_hidden=include_hidden, type=type)
    entry = _entry(user, path, with_content=content or require_hash)
    if entry is None:
        raise ContentsError(404, f"No such file or directory: {path}")
    if entry.type == DIRECTORY:
        return _dir_model(
            user, path, entry, content=content, include_hidden=include_hidden, type=type
        )
    if type == "directory":
        raise ContentsError(400, f"{path} is not a directory")
    if _is_notebook(path, type):
        return _notebook_model(entry, content=content, require_hash=require_hash)
    return _file_model(entry, content=content, format=format, require_hash=require_hash)


def _dir_model(user, path, entry, *, content, include_hidden, type) -> dict:
    if type not in (None, "directory"):
        raise ContentsError(400, f"{path} is a directory, not a {type}")
    created = entry.created if entry else user.date_joined
    modified = entry.last_modified if entry else user.date_joined
    model = _base_model(path, created=created, last_modified=modified, size=None)
    model["type"] = "directory"
    if content:
        children = ContentEntry.objects.filter(user=user, parent=path).order_by("name")
        model["content"] = [
            _listing_model(*row)
            for row in children.values_list(
                "path", "name", "type", "size", "created", "last_modified"
            )
            if include_hidden or not row[1].startswith(".")
        ]
        model["format"] = "json"
    return model


def _listing_model(path, name, type, size, created, last_modified) -> dict:
    model = _base_model(path, created=created, last_modified=last_modified, size=size)
    if type == DIRECTORY:
        model["type"] = "directory"
    elif name.endswith(".ipynb"):
        model["type"] = "notebook"
    else:
        model["type"] = "file"
        model["mimetype"] = mimetypes.guess_type(name)[0]
    return model


def _hash_fields(data: bytes) -> dict:
    return {"hash": hashlib.sha256(data).hexdigest(), "hash_algorithm": "sha256"}


def _notebook_model(entry: ContentEntry, *, content: bool, require_hash: bool) -> dict:
    model = _base_model(
        entry.path, created=entry.created, last_modified=entry.last_modified, size=entry.size
    )
    model["type"] = "notebook"
    if content or require_hash:
        data = _bytes_of(entry)
        if content:
            model["content"] = _notebook_json(data, entry.path)
            model["format"] = "json"
        if require_hash:
            model.update(_hash_fields(data))
    return model


def _notebook_json(data: bytes, path: str) -> dict:
    """The notebook as Jupyter reads it (multi-line strings rejoined; old versions upgraded),
    without schema validation: the server validates what it is given, as Jupyter does."""
    try:
        raw = json.loads(data)
        if raw.get("nbformat") == 4:
            return nbformat.v4.to_notebook_json(raw)
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except (
        ValueError,  # UnicodeDecodeError and nbformat's NotJSONError included
        AttributeError,
        TypeError,
        KeyError,
        IndexError,
        RecursionError,
        nbformat.ValidationError,  # a file of an older nbformat too broken to convert
        nbformat.reader.NotJSONError,
    ):
        raise ContentsError(400, f"Unreadable Notebook: {path}") from None


def _file_model(entry, *, content: bool, format: str | None, require_hash: bool) -> dict:
    model = _base_model(
        entry.path, created=entry.created, last_modified=entry.last_modified, size=entry.size
    )
    model["type"] = "file"
    model["mimetype"] = mimetypes.guess_type(entry.name)[0]
    if content or require_hash:
        data = _bytes_of(entry)
        if content:
            if format in (None, "text"):
                try:
                    model["content"], model["format"] = data.decode("utf-8"), "text"
                except UnicodeDecodeError:
                    if format == "text":
                        raise ContentsError(400, f"{entry.path} is not UTF-8 encoded") from None
            if model["format"] is None:
                model["content"] = base64.encodebytes(data).decode("ascii")
                model["format"] = "base64"
            if model["mimetype"] is None:
                model["mimetype"] = (
                    "text/plain" if model["format"] == "text" else "application/octet-stream"
                )
        if require_hash:
            model.update(_hash_fields(data))
    return model


# -- writing ---------------------------------------------------------------------------------


# The fields of a contents model that this store reads, with the JSON type each must have.
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


def _checked_model(model) -> dict:
    """``model`` if it is a JSON object whose fields have their JSON types (``"type"`` a
    string among the three kinds, ``"chunk"`` an integer, ...); 400 naming the field otherwise.

    Every service that reads a model calls this first, so no field is used before its type is
    known (a list where a string belongs is a clear 400, not a ``TypeError``).
    """
    if not isinstance(model, dict):
        raise ContentsError(400, "The body must be a contents model (a JSON object).")
    for field, expected in _MODEL_FIELDS.items():
        value = model.get(field)
        if value is None:
            continue
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ContentsError(400, f"'{field}' must be {_TYPE_NAMES[expected]}.")
        if isinstance(value, str) and _SURROGATE.search(value):
            raise ContentsError(400, f"'{field}' contains a lone surrogate.")
    if model.get("type") is not None and model["type"] not in NOTEBOOK_TYPES:
        raise ContentsError(400, f"Unknown type {model['type']!r}: use one of {NOTEBOOK_TYPES}.")
    if model.get("format") is not None and model["format"] not in FORMATS:
        raise ContentsError(400, f"Unknown format {model['format']!r}: use one of {FORMATS}.")
    return model


def _check_notebook_shape(body: dict) -> None:
    """400 unless ``body`` has the shape of an nbformat 4 notebook where nbformat's writer and
    our readers rely on it: cells that are objects with a known ``cell_type``, sources that are
    strings (or lists of strings), outputs that are lists of objects with an ``output_type``.
    Anything else in it (metadata, extra keys) is kept as given, as Jupyter does."""
    major, minor = body.get("nbformat"), body.get("nbformat_minor", 0)
    if not isinstance(major, int) or isinstance(major, bool) or major != nbformat.current_nbformat:
        raise ContentsError(
            400, f"Only nbformat {nbformat.current_nbformat} notebooks can be saved, not {major!r}."
        )
    if not isinstance(minor, int) or isinstance(minor, bool) or minor < 0:
        raise ContentsError(400, "'nbformat_minor' must be a non-negative integer.")
    if not isinstance(body.get("metadata", {}), dict):
        raise ContentsError(400, "A notebook's 'metadata' must be an object.")
    cells = body.get("cells", [])
    if not isinstance(cells, list):
        raise ContentsError(400, "A notebook's 'cells' must be a list.")
    for index, cell in enumerate(cells):
        where = f"cell {index}"
        if not isinstance(cell, dict):
            raise ContentsError(400, f"{where} must be an object.")
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise ContentsError(400, f"{where} needs a 'cell_type' of code, markdown or raw.")
        if not _is_text(cell.get("source", "")):
            raise ContentsError(400, f"{where}: 'source' must be a string or a list of strings.")
        for key in ("metadata", "attachments"):
            if not isinstance(cell.get(key, {}), dict | None):
                raise ContentsError(400, f"{where}: '{key}' must be an object.")
        if "id" in cell and not isinstance(cell["id"], str):
            raise ContentsError(400, f"{where}: 'id' must be a string.")
        if cell["cell_type"] == "code":
            outputs = cell.get("outputs", [])
            if not isinstance(outputs, list):
                raise ContentsError(400, f"{where}: 'outputs' must be a list.")
            for output in outputs:
                if not isinstance(output, dict) or not isinstance(output.get("output_type"), str):
                    raise ContentsError(
                        400, f"{where}: each output must be an object with an 'output_type'."
                    )
                for key in ("data", "metadata"):
                    if not isinstance(output.get(key, {}), dict):
                        raise ContentsError(400, f"{where}: an output's '{key}' must be an object.")
                if "text" in output and not _is_text(output["text"]):
                    raise ContentsError(400, f"{where}: an output's 'text' must be text.")


def _is_text(value) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(line, str) for line in value)
    )


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ContentsError(400, f"{what} contains a lone surrogate (not text).") from None


def _file_bytes(model: dict, path: str) -> bytes:
    """The bytes a save writes, from a notebook, text or base64 model; 400 if malformed."""
    kind, body, fmt = model.get("type"), model.get("content"), model.get("format")
    if kind == "notebook":
        if not isinstance(body, dict):
            raise ContentsError(400, "A notebook's content must be a notebook JSON object.")
        _check_notebook_shape(body)
        try:
            # Jupyter's own serialization, so downloads and hashes match a disk's.
            text = nbformat.writes(nbformat.from_dict(body), version=nbformat.NO_CONVERT)
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as error:
            raise ContentsError(400, f"Not a notebook: {error}") from None
        return _utf8(text, "The notebook")
    if kind == "file":
        if not isinstance(body, str):
            raise ContentsError(400, "A file's content must be a string.")
        if fmt == "base64":
            try:
                return base64.b64decode(body.encode("ascii"), validate=False)
            except (binascii.Error, UnicodeEncodeError, ValueError):
                raise ContentsError(400, f"Invalid base64 content for {path}") from None
        if fmt not in (None, "text"):
            raise ContentsError(400, f"Unknown format {fmt!r}: use 'text' or 'base64'.")
        return _utf8(body, "The text")
    raise ContentsError(400, f"Unhandled contents type: {kind}")


def _require_parent(user: User, path: str) -> str:
    parent, _ = _split(path)
    if parent and not ContentEntry.objects.filter(user=user, path=parent, type=DIRECTORY).exists():
        raise ContentsError(404, f"No such directory: {parent}")
    return parent


def _check_size(size: int) -> None:
    if size > settings.NOTEBOOK_MAX_FILE_BYTES:
        raise TooLarge(size)


@transaction.atomic
def content_save(*, user: User, path: str, model: dict) -> tuple[dict, bool]:
    """Create or replace the entry at ``path`` from a Jupyter model; ``(model, created)``.

    One transaction: on any error the stored version is as it was. A ``chunk`` (JupyterLab's
    large uploads: 1, 2, ..., -1 for the last) appends to the file the first chunk started.
    """
    path = normalize_path(path)
    if "type" not in _checked_model(model):
        raise ContentsError(400, "No file type provided")
    if path == "":
        raise ContentsError(400, "The root directory cannot be saved over.")
    if model["type"] != "directory" and "content" not in model:
        raise ContentsError(400, "No file content provided")
    parent = _require_parent(user, path)
    entry = (
        ContentEntry.objects.select_for_update().filter(user=user, path=path).defer("content")
    ).first()
    # The clock is read under the row lock: a save that waited for another's lock must not
    # stamp the file with the earlier time it arrived at (last_modified would go backwards).
    # Never before the stored stamp either, whatever the clock of the site copy that wrote it.
    now = timezone.now() if entry is None else max(timezone.now(), entry.last_modified)

    if model["type"] == "directory":
        if entry is not None and entry.type != DIRECTORY:
            raise ContentsError(400, f"Not a directory: {path}")
        if entry is None:
            ContentEntry.objects.create(
                user=user,
                path=path,
                parent=parent,
                name=_split(path)[1],
                type=DIRECTORY,
                created=now,
                last_modified=now,
            )
        return content_get(user=user, path=path, content=False, include_hidden=True), entry is None

    if entry is not None and entry.type == DIRECTORY:
        raise ContentsError(400, f"{path} is a directory")
    data = _file_bytes(model, path)
    chunk = model.get("chunk")
    if chunk is not None:
        if not isinstance(chunk, int) or chunk == 0:
            raise ContentsError(400, "chunk must be 1, 2, ... or -1 for the last.")
        if chunk != 1:
            if entry is None:
                raise ContentsError(400, f"No first chunk for {path}")
            entry.refresh_from_db(fields=["content", "key_id"])
            data = _bytes_of(entry) + data
    _check_size(len(data))
    stored, key = crypto.seal(user.pk, data)
    digest = hashlib.sha256(data).hexdigest()
    created = entry is None
    if created:
        try:
            with transaction.atomic():
                entry = ContentEntry.objects.create(
                    user=user,
                    path=path,
                    parent=parent,
                    name=_split(path)[1],
                    type=FILE,
                    content=stored,
                    size=len(data),
                    hash=digest,
                    key_id=key,
                    created=now,
                    last_modified=now,
                )
        except IntegrityError:
            raise ContentsError(409, f"{path} was created by another save; try again.") from None
    else:
        ContentEntry.objects.filter(pk=entry.pk).update(
            content=stored, size=len(data), hash=digest, key_id=key, last_modified=now
        )
    if model["type"] == "notebook" and not entry.checkpoints.exists():
        # As Jupyter's own manager does: a notebook always has a checkpoint to go back to.
        ContentCheckpoint.objects.create(
            entry=entry, content=stored, size=len(data), key_id=key, created=now
        )
    result = content_get(user=user, path=path, content=False, include_hidden=True)
    return result, created


def increment_filename(user: User, directory: str, filename: str, insert: str = "") -> str:
    """Jupyter's ``increment_filename``: "Untitled.ipynb", "Untitled1.ipynb", ...; with
    ``insert="-Copy"``: "a.ipynb", "a-Copy1.ipynb", ...; the first free name in ``directory``."""
    basename, dot, ext = filename.rpartition(".")
    if ext != "ipynb":
        basename, dot, ext = filename.partition(".")
    suffix = dot + ext
    taken = set(
        ContentEntry.objects.filter(user=user, parent=directory).values_list("name", flat=True)
    )
    for i in range(100_000):
        name = f"{basename}{f'{insert}{i}' if i else ''}{suffix}"
        if name not in taken:
            return name
    raise ContentsError(409, "No free name left.")


@transaction.atomic
def content_new(*, user: User, path: str, model: dict) -> dict:
    """POST: a new untitled file, notebook or directory in directory ``path``, or a copy
    (``{"copy_from": path}``) into it. Returns the new model (without content)."""
    directory = normalize_path(path)
    _checked_model(model)
    if (
        directory
        and not model.get("copy_from")
        and not ContentEntry.objects.filter(user=user, path=directory, type=DIRECTORY).exists()
    ):
        raise ContentsError(404, f"No such directory: {directory}")
    if model.get("copy_from"):
        return content_copy(user=user, from_path=model["copy_from"], to_path=directory)
    kind = model.get("type", "file")
    if kind not in UNTITLED:
        raise ContentsError(400, f"Unknown type {kind!r}")
    ext = model.get("ext", ".ipynb" if kind == "notebook" else "")
    if not isinstance(ext, str) or "/" in ext or len(ext) > 32:
        raise ContentsError(400, "Invalid extension.")
    if kind == "directory":
        name = increment_filename(user, directory, UNTITLED[kind], insert=" ")
    else:
        name = increment_filename(user, directory, UNTITLED[kind] + ext)
    target = f"{directory}/{name}" if directory else name
    if kind == "notebook":
        new = {"type": "notebook", "content": nbformat.v4.new_notebook(), "format": "json"}
    elif kind == "file":
        new = {"type": "file", "content": "", "format": "text"}
    else:
        new = {"type": "directory"}
    return content_save(user=user, path=target, model=new)[0]


_COPY = re.compile(r"\-Copy\d*\.")


def _is_dir(user: User, path: str) -> bool:
    return path == "" or ContentEntry.objects.filter(user=user, path=path, type=DIRECTORY).exists()


@transaction.atomic
def content_copy(*, user: User, from_path: str, to_path: str | None) -> dict:
    """Copy a file or a directory tree, as Jupyter's file manager does.

    ``to_path`` an existing directory: into it, as "name-Copy1.ext" if the name is taken;
    for a file, any other ``to_path`` is the new file's path (its parent must exist); for a
    directory, it is created. Returns the new model (without content).
    """
    source_path = normalize_path(from_path)
    source = _entry(user, source_path)
    if source is None:
        raise ContentsError(404, f"No such file or directory: {source_path}")
    from_dir, from_name = _split(source_path)
    given = to_path is not None
    to_path = normalize_path(to_path) if given else from_dir
    if _is_dir(user, to_path):
        name = increment_filename(user, to_path, _COPY.sub(".", from_name), insert="-Copy")
        target = f"{to_path}/{name}" if to_path else name
    elif source.type == DIRECTORY:
        for depth, _ in enumerate(to_path.split("/"), start=1):
            content_save(
                user=user, path="/".join(to_path.split("/")[:depth]), model={"type": "directory"}
            )
        target = f"{to_path}/{_COPY.sub('.', from_name)}"
    elif given:
        target = to_path
        parent = _split(to_path)[0]
        if parent and not _is_dir(user, parent):
            raise ContentsError(404, f"No such parent directory: {parent} to copy file in")
    else:
        raise ContentsError(404, f"No such directory: {to_path}")
    if ContentEntry.objects.filter(user=user, path=target).exists():
        raise ContentsError(409, f"File already exists: {target}")
    # A file is a tree of one: either way the stored bytes are copied as they are (same user,
    # same key), never decoded and encoded again.
    now = timezone.now()
    tree = ContentEntry.objects.filter(
        Q(pk=source.pk) | Q(user=user, path__startswith=source_path + "/")
    ).order_by("path")
    total = sum(e.size or 0 for e in tree)
    if total > settings.NOTEBOOK_MAX_COPY_BYTES:
        raise ContentsError(400, f"{source_path} is too large to copy ({total} bytes).")
    parent = _split(target)[0]
    ContentEntry.objects.bulk_create(
        [
            ContentEntry(
                user=user,
                path=target + e.path[len(source_path) :],
                parent=parent if e.pk == source.pk else target + e.parent[len(source_path) :],
                name=_split(target)[1] if e.pk == source.pk else e.name,
                type=e.type,
                content=e.content,
                size=e.size,
                hash=e.hash,
                key_id=e.key_id,
                created=now,
                last_modified=now,
            )
            for e in tree
        ]
    )
    return content_get(user=user, path=target, content=False, include_hidden=True)


@transaction.atomic
def content_rename(*, user: User, old_path: str, new_path: str) -> dict:
    """Move a file or directory (with everything under it, and its checkpoints)."""
    old, new = normalize_path(old_path), normalize_path(new_path)
    if not old or not new:
        raise ContentsError(400, "The root directory cannot be renamed.")
    if old == new:
        return content_get(user=user, path=new, content=False, include_hidden=True)
    entry = ContentEntry.objects.select_for_update().filter(user=user, path=old).first()
    if entry is None:
        raise ContentsError(404, f"File or directory does not exist: {old}")
    if ContentEntry.objects.filter(user=user, path=new).exists():
        raise ContentsError(409, f"File already exists: {new}")
    if entry.type == DIRECTORY and (new + "/").startswith(old + "/"):
        raise ContentsError(400, "A directory cannot move into itself.")
    parent = _require_parent(user, new)
    now = max(timezone.now(), entry.last_modified)  # under the lock, never backwards
    ContentEntry.objects.filter(pk=entry.pk).update(
        path=new, parent=parent, name=_split(new)[1], last_modified=now
    )
    if entry.type == DIRECTORY:
        cut = len(old) + 2  # 1-based Substr: the rest after "old/"
        under = ContentEntry.objects.filter(user=user, path__startswith=old + "/")
        under.update(
            path=Concat(Value(new + "/"), Substr("path", cut)),
            parent=Concat(Value(new), Substr("parent", len(old) + 1)),
        )
    return content_get(user=user, path=new, content=False, include_hidden=True)


@transaction.atomic
def content_delete(*, user: User, path: str, recursive: bool = True) -> None:
    """Delete a file, or a directory with everything under it (unless ``recursive`` is off,
    when a non-empty directory is refused, as Jupyter's file manager does without trash)."""
    path = normalize_path(path)
    if not path:
        raise ContentsError(400, "The root directory cannot be deleted.")
    entry = ContentEntry.objects.filter(user=user, path=path).first()
    if entry is None:
        raise ContentsError(404, f"File or directory does not exist: {path}")
    if (
        not recursive
        and entry.type == DIRECTORY
        and ContentEntry.objects.filter(user=user, parent=path).exists()
    ):
        raise ContentsError(400, f"Directory {path} not empty")
    ContentEntry.objects.filter(Q(pk=entry.pk) | Q(user=user, path__startswith=path + "/")).delete()


# -- checkpoints -----------------------------------------------------------------------------


def _checkpoint_model(checkpoint: ContentCheckpoint) -> dict:
    return {"id": str(checkpoint.pk), "last_modified": _iso(checkpoint.created)}


def _file_entry(user: User, path: str, *, lock: bool = False) -> ContentEntry:
    path = normalize_path(path)
    queryset = ContentEntry.objects.filter(user=user, path=path)
    entry = (queryset.select_for_update() if lock else queryset).first()
    if entry is None:
        raise ContentsError(404, f"No such file: {path}")
    if entry.type == DIRECTORY:
        raise ContentsError(400, f"{path} is a directory: directories have no checkpoints")
    return entry


@transaction.atomic
def checkpoint_create(*, user: User, path: str) -> dict:
    """Keep the file's current version as a new checkpoint; prune per
    ``NOTEBOOK_CHECKPOINTS_KEEP`` (0 keeps all)."""
    entry = _file_entry(user, path, lock=True)
    checkpoint = ContentCheckpoint.objects.create(
        entry=entry,
        content=entry.content,
        size=entry.size,
        key_id=entry.key_id,
        created=timezone.now(),
    )
    keep = settings.NOTEBOOK_CHECKPOINTS_KEEP
    if keep:
        stale = entry.checkpoints.order_by("-created", "-pk").values_list("pk", flat=True)[keep:]
        ContentCheckpoint.objects.filter(pk__in=list(stale)).delete()
    return _checkpoint_model(checkpoint)


def checkpoint_list(*, user: User, path: str) -> list[dict]:
    entry = _file_entry(user, path)
    return [
        _checkpoint_model(c) for c in entry.checkpoints.defer("content").order_by("created", "pk")
    ]


def _checkpoint(entry: ContentEntry, checkpoint_id: str) -> ContentCheckpoint:
    # isascii too: str.isdigit and int() also take "²" and other scripts' digits.
    checkpoint_id = str(checkpoint_id)
    if not (checkpoint_id.isascii() and checkpoint_id.isdecimal() and len(checkpoint_id) <= 18):
        raise ContentsError(404, f"No such checkpoint: {checkpoint_id}")
    checkpoint = entry.checkpoints.filter(pk=int(checkpoint_id)).first()
    if checkpoint is None:
        raise ContentsError(404, f"No such checkpoint: {checkpoint_id}")
    return checkpoint


@transaction.atomic
def checkpoint_restore(*, user: User, path: str, checkpoint_id: str) -> None:
    entry = _file_entry(user, path, lock=True)
    checkpoint = _checkpoint(entry, checkpoint_id)
    data = crypto.unseal(user.pk, checkpoint.content, checkpoint.key_id)
    ContentEntry.objects.filter(pk=entry.pk).update(
        content=checkpoint.content,
        size=checkpoint.size,
        key_id=checkpoint.key_id,
        hash=hashlib.sha256(data).hexdigest(),
        last_modified=max(timezone.now(), entry.last_modified),  # under the lock
    )


@transaction.atomic
def checkpoint_delete(*, user: User, path: str, checkpoint_id: str) -> None:
    entry = _file_entry(user, path, lock=True)
    _checkpoint(entry, checkpoint_id).delete()
