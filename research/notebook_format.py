"""Notebooks as the store keeps them: nbformat 4 JSON, written as Jupyter writes it to disk.

Two ways in, both shape-checked by ``notebook_check``: ``notebook_bytes`` serializes a
notebook given as JSON (Jupyter's own serialization, so downloads and hashes match a disk's);
``notebook_file_check`` takes a notebook file's bytes as a Jupyter manager wrote them, to be
stored as they are (parsed with orjson to check the shape, never encoded again).
``notebook_parse`` is the one way out (multi-line strings rejoined, older versions upgraded).
"""

import json
from itertools import compress

import nbformat
import orjson
from django.conf import settings

from research.exceptions import BadNotebook, InvalidModel


def text_bytes(text: str, what: str) -> bytes:
    """``text`` as UTF-8; ``InvalidModel`` naming ``what`` if it holds a lone surrogate."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidModel(f"{what} contains a lone surrogate (not text).") from None


def notebook_bytes(notebook) -> bytes:
    """The bytes the store writes for ``notebook`` (a JSON object of nbformat 4's shape, or a
    ``NotebookNode``); ``BadNotebook`` if it is not one, ``InvalidModel`` for lone surrogates."""
    if not isinstance(notebook, dict):
        raise BadNotebook("A notebook's content must be a notebook JSON object.")
    notebook_check(notebook)
    try:
        text = nbformat.writes(nbformat.from_dict(notebook), version=nbformat.NO_CONVERT)
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as error:
        raise BadNotebook(f"Not a notebook: {error}") from None
    return text_bytes(text, "The notebook")


def notebook_file_check(data: bytes) -> None:
    """``BadNotebook`` unless ``data`` is a notebook file the store can keep as it is: one
    JSON object in UTF-8 (RFC 8259 as orjson reads it: no byte order mark, no NaN or
    Infinity, no lone surrogates, nothing after the object), nested no deeper than
    ``API_MAX_JSON_DEPTH``, of the shape ``notebook_check`` asks for.

    It refuses what the JSON model's path (``notebook_bytes`` behind the API's JSON parser)
    refuses: the same shape, the same text rules; beyond that only a number too large for a
    double (``1e400``, which that path would write as ``Infinity``, no JSON). Neither runs
    nbformat's jsonschema validation: the manager that wrote the file validates it, as
    Jupyter's file manager does, and a notebook that fails it is still saved, as there."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise BadNotebook(f"Not a notebook file (JSON in UTF-8): {error}") from None
    if not isinstance(body, dict):
        raise BadNotebook("A notebook file must hold a notebook JSON object.")
    if _too_deep(body, settings.API_MAX_JSON_DEPTH):
        raise BadNotebook(f"A notebook nested deeper than {settings.API_MAX_JSON_DEPTH} levels.")
    notebook_check(body)


_CONTAINERS = frozenset((dict, list))


def _too_deep(body: dict, limit: int) -> bool:
    """Does ``body`` hold a list or object nested deeper than ``limit`` (``body`` is 1)?"""
    level, depth = [body], 1
    while level:
        if depth > limit:
            return True
        deeper = []
        for value in level:
            children = value.values() if type(value) is dict else value
            # Only the containers, picked out at C speed: a notebook's bulk is strings.
            deeper.extend(compress(children, map(_CONTAINERS.__contains__, map(type, children))))
        level, depth = deeper, depth + 1
    return False


def notebook_check(body: dict) -> None:
    """``BadNotebook`` unless ``body`` has the shape of an nbformat 4 notebook where nbformat's
    writer and our readers rely on it: cells that are objects with a known ``cell_type``,
    sources that are strings (or lists of strings), outputs that are lists of objects with an
    ``output_type``. Anything else in it (metadata, extra keys) is kept as given, as Jupyter
    does; schema validation is the server's, on what it is given."""
    major, minor = body.get("nbformat"), body.get("nbformat_minor", 0)
    if not isinstance(major, int) or isinstance(major, bool) or major != nbformat.current_nbformat:
        raise BadNotebook(
            f"Only nbformat {nbformat.current_nbformat} notebooks can be saved, not {major!r}."
        )
    if not isinstance(minor, int) or isinstance(minor, bool) or minor < 0:
        raise BadNotebook("'nbformat_minor' must be a non-negative integer.")
    if not isinstance(body.get("metadata", {}), dict):
        raise BadNotebook("A notebook's 'metadata' must be an object.")
    cells = body.get("cells", [])
    if not isinstance(cells, list):
        raise BadNotebook("A notebook's 'cells' must be a list.")
    for index, cell in enumerate(cells):
        _cell_check(cell, f"cell {index}")


def _cell_check(cell, where: str) -> None:
    if not isinstance(cell, dict):
        raise BadNotebook(f"{where} must be an object.")
    if cell.get("cell_type") not in ("code", "markdown", "raw"):
        raise BadNotebook(f"{where} needs a 'cell_type' of code, markdown or raw.")
    if not _is_text(cell.get("source", "")):
        raise BadNotebook(f"{where}: 'source' must be a string or a list of strings.")
    for key in ("metadata", "attachments"):
        if not isinstance(cell.get(key, {}), dict | None):
            raise BadNotebook(f"{where}: '{key}' must be an object.")
    if "id" in cell and not isinstance(cell["id"], str):
        raise BadNotebook(f"{where}: 'id' must be a string.")
    if cell["cell_type"] == "code":
        outputs = cell.get("outputs", [])
        if not isinstance(outputs, list):
            raise BadNotebook(f"{where}: 'outputs' must be a list.")
        for output in outputs:
            _output_check(output, where)


def _output_check(output, where: str) -> None:
    if not isinstance(output, dict) or not isinstance(output.get("output_type"), str):
        raise BadNotebook(f"{where}: each output must be an object with an 'output_type'.")
    for key in ("data", "metadata"):
        if not isinstance(output.get(key, {}), dict):
            raise BadNotebook(f"{where}: an output's '{key}' must be an object.")
    if "text" in output and not _is_text(output["text"]):
        raise BadNotebook(f"{where}: an output's 'text' must be text.")


def _is_text(value) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(line, str) for line in value)
    )


def notebook_parse(data: bytes, *, path: str) -> nbformat.NotebookNode:
    """The notebook stored as ``data``, as Jupyter reads it (multi-line strings rejoined; older
    versions upgraded to 4), without schema validation; ``BadNotebook`` ("Unreadable
    Notebook: path") if it is no notebook nbformat can read."""
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
        raise BadNotebook(f"Unreadable Notebook: {path}") from None
