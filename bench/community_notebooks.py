"""Research notebooks for the community benchmark, made here: markdown, code, DataFrame outputs
(HTML and plain), backtest logs and PNG charts drawn with Pillow (no plotting library in the
venv). A notebook made from a seeded ``random.Random`` is the same every time."""

import base64
import io
import json
import random

from PIL import Image, ImageDraw

WHITE = (255, 255, 255)
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
GRID = (225, 225, 225)
AXIS = (40, 40, 40)
SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "JPM", "XOM", "TSLA", "BRK.B"]
STYLES = [
    "Momentum",
    "Mean reversion",
    "Pairs trading",
    "Carry",
    "Value",
    "Low volatility",
    "Trend following",
    "Statistical arbitrage",
    "Volatility targeting",
    "Breakout",
    "Seasonality",
    "Risk parity",
]
UNIVERSES = [
    "the S&P 500",
    "the Nasdaq 100",
    "FX majors",
    "crypto",
    "European equities",
    "commodity futures",
    "US treasuries",
    "emerging markets",
]
FLAVOURS = ["A simple", "Robust", "Intraday", "Weekly", "Sector-neutral", "Long-short", "Quick"]
SENTENCES = [
    "Backtested from 2010 with **10 bps** costs and next-open fills.",
    "Signals are ranked cross-sectionally and rebalanced every Friday.",
    "The drawdown in 2020 is the weak spot; ideas welcome.",
    "Position sizes target 10% annualised volatility.",
    "Uses only daily bars, so it clones and runs in a minute.",
    "Compare with the buy-and-hold line in the chart.",
    "Out-of-sample from 2022: Sharpe drops from 1.4 to 0.9.",
    "See the table for turnover and hit rate per year.",
]
TABLE_COLUMNS = ["open", "high", "low", "close", "volume", "signal", "position", "pnl"]


# -- charts ------------------------------------------------------------------------------------


def png(image: Image.Image) -> bytes:
    """``image`` as a PNG file (zlib level 6, as matplotlib's Agg backend writes them)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _tint(color: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    """``color`` moved ``amount`` (0 to 1) of the way to white."""
    return tuple(int(c + (255 - c) * amount) for c in color)


def _random_walk(rng: random.Random, steps: int) -> list[float]:
    """``steps`` levels of a walk with a slight upward drift."""
    level, levels = 0.0, []
    for _ in range(steps):
        level += rng.gauss(0.04, 1.0)
        levels.append(level)
    return levels


def _draw_curve(
    draw: ImageDraw.ImageDraw,
    levels: list[float],
    color: tuple[int, int, int],
    *,
    left: int,
    top: int,
    bottom: int,
    shaded: bool,
) -> None:
    """``levels`` scaled between ``top`` and ``bottom``, one column a step from ``left``: a
    three-pixel line joining each step to the last, lighter edge pixels above and below it (as
    anti-aliasing leaves them) and, if ``shaded``, a light area down to ``bottom``."""
    edge, shade = _tint(color, 0.6), _tint(color, 0.85)
    low, high = min(levels), max(levels)
    scale = (bottom - top) / ((high - low) or 1.0)
    previous = None
    for i, value in enumerate(levels):
        x = left + i
        y = int(bottom - (value - low) * scale)
        upper, lower = (y, y) if previous is None else (min(previous, y), max(previous, y))
        draw.line([(x, upper - 1), (x, lower + 1)], fill=color)
        draw.point([(x, upper - 2), (x, lower + 2)], fill=edge)
        if shaded and lower + 3 < bottom:
            draw.line([(x, lower + 3), (x, bottom - 1)], fill=shade)
        previous = y


def line_chart(rng: random.Random, width: int = 800, height: int = 450) -> bytes:
    """An equity-curve chart as PNG: grid, a shaded area under the first curve, three random
    walks with lighter edge pixels, and a scatter of 500 trades."""
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    left, bottom = 60, height - 40
    for y in range(40, bottom, 45):
        draw.line([(left, y), (width - 1, y)], fill=GRID)
    for x in range(left, width, 90):
        draw.line([(x, 20), (x, bottom - 1)], fill=GRID)
    for index in range(3):
        levels = _random_walk(rng, width - left)
        _draw_curve(
            draw, levels, PALETTE[index], left=left, top=40, bottom=bottom, shaded=index == 0
        )
    for _ in range(500):
        x, y = rng.randrange(left, width - 2), rng.randrange(30, bottom - 2)
        color = _tint(PALETTE[rng.randrange(len(PALETTE))], rng.random() * 0.5)
        draw.rectangle([x, y, x + 2, y + 2], fill=color)
    draw.line([(left, bottom), (width - 1, bottom)], fill=AXIS)
    draw.line([(left, 20), (left, bottom)], fill=AXIS)
    return png(image)


def heatmap(rng: random.Random, cells: int = 24, size: int = 22) -> bytes:
    """A symmetric correlation matrix as PNG, on a diverging colour map (blue, white, red),
    ``size``-pixel cells with a white line between them."""
    values = [[1.0] * cells for _ in range(cells)]
    for i in range(cells):
        for j in range(i):
            values[i][j] = values[j][i] = rng.uniform(-1, 1)
    blue, red = (59, 76, 192), (180, 4, 38)

    def colour(v: float) -> tuple[int, int, int]:
        end = red if v > 0 else blue
        return tuple(int(255 + (c - 255) * abs(v)) for c in end)

    image = Image.new("RGB", (cells * size, cells * size), WHITE)
    draw = ImageDraw.Draw(image)
    for i in range(cells):
        for j in range(cells):
            x, y = j * size, i * size
            draw.rectangle([x, y, x + size - 2, y + size - 2], fill=colour(values[i][j]))
    return png(image)


# -- outputs -----------------------------------------------------------------------------------


def dataframe(rng: random.Random, rows: int = 60) -> tuple[str, str]:
    """A pandas-style DataFrame of daily prices and signals: ``(text/html, text/plain)``."""
    price = rng.uniform(20, 400)
    html = [
        '<div>\n<table border="1" class="dataframe">\n  <thead>\n'
        '    <tr style="text-align: right;">\n      <th></th>\n'
        + "".join(f"      <th>{c}</th>\n" for c in TABLE_COLUMNS)
        + "    </tr>\n  </thead>\n  <tbody>\n"
    ]
    plain = ["            " + "".join(f"{c:>11}" for c in TABLE_COLUMNS)]
    day = rng.randrange(1, 20)
    for n in range(rows):
        price *= 1 + rng.gauss(0.0003, 0.015)
        values = [
            f"{price * (1 + rng.gauss(0, 0.004)):.2f}",
            f"{price * 1.01:.2f}",
            f"{price * 0.99:.2f}",
            f"{price:.2f}",
            f"{rng.randrange(100_000, 9_000_000)}",
            f"{rng.gauss(0, 1):.4f}",
            f"{rng.choice((-1, 0, 1))}",
            f"{rng.gauss(0, 250):.2f}",
        ]
        date = f"2024-{1 + (day + n) // 28 % 12:02}-{1 + (day + n) % 28:02}"
        html.append(
            f"    <tr>\n      <th>{date}</th>\n"
            + "".join(f"      <td>{v}</td>\n" for v in values)
            + "    </tr>\n"
        )
        plain.append(f"{date:<12}" + "".join(f"{v:>11}" for v in values))
    html.append(f"  </tbody>\n</table>\n<p>{rows} rows x 8 columns</p>\n</div>")
    return "".join(html), "\n".join(plain)


def trade_log(rng: random.Random, lines: int = 150) -> str:
    """A backtest's stdout: one line a trade, with its P&L and the running equity."""
    equity, out = 100_000.0, []
    for n in range(lines):
        pnl = rng.gauss(20, 400)
        equity += pnl
        side = rng.choice(("BUY ", "SELL"))
        out.append(
            f"2024-{1 + n // 28 % 12:02}-{1 + n % 28:02} {side} {rng.choice(SYMBOLS):<5} "
            f"{rng.randrange(10, 2000):>5} @ {rng.uniform(20, 400):8.2f}  pnl={pnl:+9.2f}  "
            f"equity={equity:,.2f}"
        )
    return "\n".join(out) + "\n"


# -- cells and notebooks -----------------------------------------------------------------------


def _opening_cells(rng: random.Random) -> list:
    """A title with a few sentences, and the code that loads the prices."""
    from nbformat import v4

    style, universe = rng.choice(STYLES), rng.choice(UNIVERSES)
    return [
        v4.new_markdown_cell(f"# {style} on {universe}\n\n{' '.join(rng.sample(SENTENCES, 3))}"),
        v4.new_code_cell(
            "import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n\n"
            f"prices = load_prices({rng.sample(SYMBOLS, 4)!r}, start='2010-01-01')",
            execution_count=1,
        ),
    ]


def _chart_cell(image: bytes, execution_count: int):
    """A plotting cell whose display output is the PNG ``image``."""
    from nbformat import v4

    return v4.new_code_cell(
        "fig, ax = plt.subplots(figsize=(8, 4.5))\n"
        "equity.plot(ax=ax)\nax.set_title('Equity curve')",
        execution_count=execution_count,
        outputs=[
            v4.new_output(
                "display_data",
                {
                    "image/png": base64.b64encode(image).decode(),
                    "text/plain": "<Figure size 800x450 with 1 Axes>",
                },
            )
        ],
    )


def _table_cell(rng: random.Random, execution_count: int):
    """A strategy cell whose result is a DataFrame of 60 rows."""
    from nbformat import v4

    html, plain = dataframe(rng)
    return v4.new_code_cell(
        f"signals = strategy(prices, lookback={rng.randrange(5, 250)})\nsignals.tail(60)",
        execution_count=execution_count,
        outputs=[
            v4.new_output(
                "execute_result",
                {"text/html": html, "text/plain": plain},
                execution_count=execution_count,
            )
        ],
    )


def _backtest_cell(rng: random.Random, execution_count: int):
    """A backtest cell whose stdout is a trade log."""
    from nbformat import v4

    return v4.new_code_cell(
        "result = backtest(signals, costs_bps=10)\nresult.print_trades()",
        execution_count=execution_count,
        outputs=[v4.new_output("stream", name="stdout", text=trade_log(rng))],
    )


def _reaches(cells: list, size: int) -> bool:
    """Whether a notebook of ``cells`` is ``size`` bytes or more as stored (indented JSON)."""
    import nbformat

    # Compact JSON is about 3/4 of the stored size: serialize the notebook only near the end.
    return sum(len(json.dumps(cell)) for cell in cells) >= size * 0.7 and (
        len(nbformat.writes(nbformat.v4.new_notebook(cells=cells))) >= size
    )


def notebook_of(rng: random.Random, size: int, charts: int):
    """A research notebook of about ``size`` bytes as stored: an opening, then rounds of a
    chart (the first ``charts`` rounds; the second to last of them a heatmap when there are
    several), a DataFrame, a remark and a trade log, until the size is reached.

    Returns ``(notebook, index of the first chart cell or None)``."""
    from nbformat import v4

    cells = _opening_cells(rng)
    first_chart = len(cells) if charts else None
    charts_left = charts
    while charts_left or not _reaches(cells, size):
        if charts_left:
            image = heatmap(rng) if charts_left == 2 else line_chart(rng)
            charts_left -= 1
            cells.append(_chart_cell(image, execution_count=len(cells)))
        cells.append(_table_cell(rng, execution_count=len(cells)))
        cells.append(v4.new_markdown_cell(" ".join(rng.sample(SENTENCES, 2))))
        cells.append(_backtest_cell(rng, execution_count=len(cells)))
    return v4.new_notebook(cells=cells), first_chart
