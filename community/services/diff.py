"""What changed between two versions of a shared notebook, cell by cell, as nbdime shows it:
cells added, removed, modified (a line diff of the source, and of text outputs) and runs of
unchanged cells, collapsed.

Only reads (the two .ipynb files from the store); it lives among the services because it
reads the store, which selectors do not. The work is bounded for any notebook a share can
hold: at most ``MAX_CELLS`` cells of each version, ``MAX_LINES`` lines of each text and
``MAX_DIFF_LINES`` diff lines in all are compared and shown, lines are clipped for display,
and the result says when it was cut.
"""

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field

import nbformat

from community.models import SharedNotebookVersion
from community.storage import stored_bytes
from quantsite.exceptions import ApplicationError

MAX_CELLS = 1_000
MAX_LINES = 2_000  # of a cell's source, or of its text outputs
MAX_LINE_CHARS = 400  # a line is shown this long at most (minified JSON is one line)
MAX_DIFF_LINES = 5_000  # shown in all, over every modified cell
# A modified cell is looked for this many cells ahead in the other version (the pairing
# compares cells two by two; the window keeps it linear).
PAIRING_WINDOW = 20
SIMILAR = 0.5  # difflib's ratio above which two cells of one type are one cell, edited
SIMILAR_BY_CHARS = 2_000
CONTEXT_LINES = 3
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class NotebookUnreadable(ApplicationError):
    """A stored version is not a notebook nbformat can read (422)."""

    status_code = 422

    def __init__(self, number: int):
        super().__init__(f"Version {number} could not be read as a notebook.")


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "context", "added", "removed", "hunk" (an "@@" line between hunks)
    text: str


@dataclass
class CellChange:
    """One entry of the list: a cell (or a run of unchanged cells)."""

    kind: str  # "added", "removed", "modified", "unchanged"
    cell_type: str = ""
    old_index: int | None = None  # 1-based, as a reader counts cells
    new_index: int | None = None
    source: list[str] = field(default_factory=list)  # added/removed: its lines
    source_diff: list[DiffLine] = field(default_factory=list)  # modified
    outputs_diff: list[DiffLine] = field(default_factory=list)  # modified, text outputs
    images_changed: bool = False
    other_outputs_changed: list[str] = field(default_factory=list)  # mime types
    unchanged: list[str] = field(default_factory=list)  # a run: each cell's first line
    truncated: bool = False  # this cell's text was cut

    @property
    def source_changed(self) -> bool:
        return bool(self.source_diff)


@dataclass
class NotebookChanges:
    old_number: int
    new_number: int
    changes: list[CellChange]
    added: int = 0
    removed: int = 0
    modified: int = 0
    unchanged: int = 0
    truncated: bool = False  # cells, lines or the diff were cut: the rest is not shown


# Reading a cell ----------------------------------------------------------------------------


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _lines(text: str) -> tuple[list[str], bool]:
    lines = text.splitlines()
    return lines[:MAX_LINES], len(lines) > MAX_LINES


def _clipped(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…"


@dataclass(frozen=True)
class _Cell:
    """What the comparison looks at: type, id, source, and outputs as text and as digests
    (execution counts and metadata are not changes a reader wants listed)."""

    cell_type: str
    cell_id: str
    source: str
    output_text: str
    images: tuple[str, ...]
    others: tuple[tuple[str, str], ...]  # (mime type, digest)

    @property
    def key(self) -> tuple:
        return (self.cell_type, self.source, self.output_text, self.images, self.others)


def _digest(value) -> str:
    data = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(data.encode("utf-8", "replace")).hexdigest()


def _cell(raw) -> _Cell:
    texts, images, others = [], [], []
    for output in raw.get("outputs", []) if raw.get("cell_type") == "code" else []:
        kind = output.get("output_type")
        if kind == "stream":
            texts.append(_text(output.get("text")))
        elif kind == "error":
            trace = "\n".join(_text(line) for line in output.get("traceback", []))
            texts.append(ANSI.sub("", trace) or f"{output.get('ename')}: {output.get('evalue')}")
        data = output.get("data") or {}
        if not isinstance(data, dict):
            continue
        for mime, value in data.items():
            if mime == "text/plain":
                texts.append(_text(value))
            elif mime in IMAGE_TYPES:
                images.append(_digest(_text(value)))
            else:
                others.append((str(mime), _digest(value)))
    return _Cell(
        cell_type=str(raw.get("cell_type", "")),
        cell_id=str(raw.get("id", "")),
        source=_text(raw.get("source")),
        output_text="\n".join(text.rstrip("\n") for text in texts),
        images=tuple(images),
        others=tuple(others),
    )


def _notebook_cells(version: SharedNotebookVersion) -> tuple[list[_Cell], bool]:
    """The version's cells (at most ``MAX_CELLS``) and whether there were more.
    Raises ``StoredFileMissing``, ``StorageUnavailable``, ``NotebookUnreadable``."""
    data = stored_bytes(version.ipynb_key)
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        cells = nb.cells
    except Exception as error:  # nbformat raises many kinds on a bad file
        raise NotebookUnreadable(version.number) from error
    return [_cell(raw) for raw in cells[:MAX_CELLS]], len(cells) > MAX_CELLS


# Comparing ---------------------------------------------------------------------------------


class _Budget:
    """The diff lines still to be shown, over the whole page."""

    def __init__(self):
        self.left = MAX_DIFF_LINES
        self.cut = False


def _line_diff(old: str, new: str, budget: _Budget) -> tuple[list[DiffLine], bool]:
    """A unified diff of two texts (with ``CONTEXT_LINES`` of context) as lines, and whether
    it was cut; empty if the texts are the same."""
    old_lines, old_cut = _lines(old)
    new_lines, new_cut = _lines(new)
    result = []
    kinds = {"+": "added", "-": "removed", " ": "context"}
    diff = difflib.unified_diff(old_lines, new_lines, n=CONTEXT_LINES, lineterm="")
    for line in diff:
        if line.startswith(("---", "+++")) and not result:
            continue  # the two file headers
        if budget.left <= 0:
            budget.cut = True
            return result, True
        budget.left -= 1
        if line.startswith("@@"):
            result.append(DiffLine("hunk", line))
        else:
            result.append(DiffLine(kinds.get(line[:1], "context"), _clipped(line[1:])))
    return result, old_cut or new_cut


def _similar(old: _Cell, new: _Cell) -> bool:
    if old.cell_type != new.cell_type:
        return False
    if old.cell_id and old.cell_id == new.cell_id:
        return True
    # Characters for short cells; lines for long ones, where comparing characters is
    # quadratic in their length.
    if len(old.source) <= SIMILAR_BY_CHARS and len(new.source) <= SIMILAR_BY_CHARS:
        a, b = old.source, new.source
    else:
        a, b = _lines(old.source)[0], _lines(new.source)[0]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return (
        matcher.real_quick_ratio() >= SIMILAR
        and matcher.quick_ratio() >= SIMILAR
        and matcher.ratio() >= SIMILAR
    )


def _modified(old: _Cell, new: _Cell, i: int, j: int, budget: _Budget) -> CellChange:
    source_diff, source_cut = _line_diff(old.source, new.source, budget)
    outputs_diff, outputs_cut = _line_diff(old.output_text, new.output_text, budget)
    return CellChange(
        kind="modified",
        cell_type=new.cell_type,
        old_index=i + 1,
        new_index=j + 1,
        source_diff=source_diff,
        outputs_diff=outputs_diff,
        images_changed=old.images != new.images,
        other_outputs_changed=sorted({mime for mime, _ in set(old.others) ^ set(new.others)}),
        truncated=source_cut or outputs_cut,
    )


def _whole(kind: str, cell: _Cell, index: int) -> CellChange:
    lines, cut = _lines(cell.source)
    return CellChange(
        kind=kind,
        cell_type=cell.cell_type,
        old_index=index + 1 if kind == "removed" else None,
        new_index=index + 1 if kind == "added" else None,
        source=[_clipped(line) for line in lines],
        truncated=cut,
    )


def _pair_block(old, new, i0, j0, budget) -> list[CellChange]:
    """The changes within a block the two versions do not share: cells paired in order
    (same id, or one type and similar source) are modified, the rest removed or added."""
    changes, j = [], 0
    for i, cell in enumerate(old):
        match = next(
            (k for k in range(j, min(len(new), j + PAIRING_WINDOW)) if _similar(cell, new[k])),
            None,
        )
        if match is None:
            changes.append(_whole("removed", cell, i0 + i))
            continue
        changes.extend(_whole("added", new[k], j0 + k) for k in range(j, match))
        changes.append(_modified(cell, new[match], i0 + i, j0 + match, budget))
        j = match + 1
    changes.extend(_whole("added", new[k], j0 + k) for k in range(j, len(new)))
    return changes


def notebook_changes(old: list[_Cell], new: list[_Cell]) -> tuple[list[CellChange], bool]:
    """The cell-level changes from ``old`` to ``new``, and whether the diff lines were cut."""
    budget = _Budget()
    matcher = difflib.SequenceMatcher(
        None, [c.key for c in old], [c.key for c in new], autojunk=False
    )
    changes: list[CellChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            changes.append(
                CellChange(
                    kind="unchanged",
                    old_index=i1 + 1,
                    new_index=j1 + 1,
                    unchanged=[_clipped(next(iter(c.source.splitlines()), "")) for c in new[j1:j2]],
                )
            )
        else:
            changes.extend(_pair_block(old[i1:i2], new[j1:j2], i1, j1, budget))
    return changes, budget.cut


def notebook_versions_compare(
    *, old: SharedNotebookVersion, new: SharedNotebookVersion
) -> NotebookChanges:
    """What changed from version ``old`` to version ``new`` of one shared notebook.

    Reads both files from the store. Raises ``StoredFileMissing`` (404), ``StorageUnavailable``
    (503) and ``NotebookUnreadable`` (422). Any two notebooks take bounded work (see the
    module); ``truncated`` says the page does not show everything.
    """
    old_cells, old_cut = _notebook_cells(old)
    new_cells, new_cut = _notebook_cells(new)
    changes, diff_cut = notebook_changes(old_cells, new_cells)
    counts = {"added": 0, "removed": 0, "modified": 0, "unchanged": 0}
    for change in changes:
        counts[change.kind] += len(change.unchanged) if change.kind == "unchanged" else 1
    return NotebookChanges(
        old_number=old.number,
        new_number=new.number,
        changes=changes,
        truncated=old_cut or new_cut or diff_cut or any(c.truncated for c in changes),
        **counts,
    )
