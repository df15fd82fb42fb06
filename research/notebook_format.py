"""Notebooks as the store keeps them: nbformat 4 JSON, written as Jupyter writes it to disk.

``notebook_bytes`` is the one way in (shape checked, Jupyter's own serialization, so
downloads and hashes match a disk's); ``notebook_parse`` the one way out (multi-line strings
rejoined, older versions upgraded).
"""

import json

import nbformat

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
