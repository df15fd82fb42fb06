"""Notebooks the rendering tests read: what a quant's shared notebook is made of."""

import nbformat

# The common cases of a quant notebook's formulas, as people type them in Markdown cells.
FORMULAS = r"""# Returns and risk

The daily return is $r_t = \frac{P_t - P_{t-1}}{P_{t-1}}$, and over $n$ days
$\bar{r} = \frac{1}{n}\sum_{t=1}^{n} r_t$, with volatility $\sigma$ and Sharpe ratio
$S = \frac{\mu - r_f}{\sigma}\sqrt{252}$.

$$\Sigma = \begin{pmatrix} \sigma_1^2 & \rho\,\sigma_1\sigma_2 \\
\rho\,\sigma_1\sigma_2 & \sigma_2^2 \end{pmatrix}$$

\begin{align}
\mu_p &= w^\top \mu \\
\sigma_p^2 &= w^\top \Sigma\, w
\end{align}

Greek letters: $\alpha, \beta, \gamma, \Delta, \theta, \lambda, \pi$; a root $\sqrt[3]{x}$.
"""
# An SVG chart as matplotlib writes one (format='svg'), small.
SVG_CHART = (
    '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
    '<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="120" height="80" '
    'viewBox="0 0 120 80" xmlns="http://www.w3.org/2000/svg" version="1.1">'
    '<defs><style type="text/css">*{stroke-linejoin: round}</style></defs>'
    '<g id="figure_1"><rect x="0" y="0" width="120" height="80" style="fill: #ffffff"/>'
    '<path d="M 10 70 L 40 40 L 70 50 L 110 10" style="fill: none; stroke: #1f77b4"/>'
    '<text x="10" y="78" font-size="8">equity</text></g></svg>'
)


def reading_notebook(*, long_lines: int = 500) -> nbformat.NotebookNode:
    """Headings and formulas, highlighted code with an executed result, an SVG chart, a long
    printed output, an error, and the empty cells a notebook often ends with."""
    code = nbformat.v4.new_code_cell("import numpy as np\ndef sharpe(r):\n    return r.mean()")
    code.execution_count = 3
    code.outputs = [
        nbformat.v4.new_output(
            "execute_result", {"text/plain": "0.42"}, execution_count=3, metadata={}
        )
    ]
    chart = nbformat.v4.new_code_cell("plot(equity)")
    chart.execution_count = 4
    chart.outputs = [nbformat.v4.new_output("display_data", {"image/svg+xml": SVG_CHART})]
    printed = nbformat.v4.new_code_cell("for day in range(500): print(day)")
    printed.execution_count = 5
    printed.outputs = [
        nbformat.v4.new_output(
            "stream", name="stdout", text="".join(f"day {n}\n" for n in range(long_lines))
        )
    ]
    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(FORMULAS),
            code,
            chart,
            printed,
            nbformat.v4.new_markdown_cell("## Conclusion\n\nIt *works*."),
            nbformat.v4.new_code_cell(""),
            nbformat.v4.new_markdown_cell("  \n"),
        ]
    )
