"""What reading like GitHub costs: the site's render of a shared notebook (compact prompts,
formulas as MathML, SVG outputs redrawn, sanitized) against nbconvert's own HTML export of the
same notebook in the same run (the classic ``basic`` template, no math conversion, no
sanitizing), and the SVG redraw against parsing the same SVG with defusedxml alone.

CPU time of this process (``time.process_time``) per render, so the figures compare across a
noisy machine; the ratios are the figures to read. Runs on the embedded default (no database
is touched). Nothing here asserts.

    .venv/bin/python bench/reading.py [--rounds 20]
"""

import argparse
import base64
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

import nbformat  # noqa: E402
from defusedxml.ElementTree import fromstring  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402

from community.sanitize import svg_clean, svg_data_uri_clean  # noqa: E402
from community.services.rendering import _html  # noqa: E402
from community.tests.notebooks import FORMULAS, reading_notebook  # noqa: E402


def cpu_ms(work, rounds: int) -> float:
    work()  # warm: templates compiled, caches filled
    start = time.process_time()
    for _ in range(rounds):
        work()
    return (time.process_time() - start) * 1000 / rounds


def chart_svg(paths: int) -> str:
    """An SVG the size of a busy matplotlib chart: ``paths`` line segments in groups."""
    body = "".join(
        f'<g id="line{n}"><path d="M {n} 0 L {n + 5} {n % 97} L {n + 9} {n % 53}" '
        f'style="fill: none; stroke: #1f77b4; stroke-width: 1.5"/></g>'
        for n in range(paths)
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">{body}</svg>'


def formula_notebook(cells: int) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(FORMULAS) for _ in range(cells)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    exporter = HTMLExporter(template_name="basic")

    rows = []
    for label, nb in [
        ("the reading notebook (formulas, code, SVG chart, 500-line output)", reading_notebook()),
        ("20 Markdown cells of formulas (~200 formulas)", formula_notebook(20)),
    ]:
        ours = cpu_ms(lambda nb=nb: _html(nb), args.rounds)
        baseline = cpu_ms(lambda nb=nb: exporter.from_notebook_node(nb), args.rounds)
        rows.append((label, ours, baseline))
    for paths in (1_000, 10_000):
        svg = chart_svg(paths)
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
        ours = cpu_ms(lambda uri=uri: svg_data_uri_clean(uri), max(args.rounds // 4, 3))
        baseline = cpu_ms(lambda svg=svg: fromstring(svg), max(args.rounds // 4, 3))
        size = len(svg) / 1024
        rows.append((f"SVG redraw, {paths:,} paths ({size:,.0f} KB)", ours, baseline))
    assert svg_clean(chart_svg(10)) is not None

    print(f"{'what':70} {'site ms':>9} {'baseline ms':>12} {'ratio':>7}")
    for label, ours, baseline in rows:
        print(f"{label:70} {ours:9.1f} {baseline:12.1f} {ours / baseline:6.2f}x")
    print(
        "\nbaselines: nbconvert's HTMLExporter (basic template) on the same notebook; "
        "defusedxml parsing the same SVG"
    )


if __name__ == "__main__":
    main()
