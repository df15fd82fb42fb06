"""The stylesheet that colours highlighted code in rendered notebooks and the forum's posts.

The renderer writes Pygments' token classes under its own prefix (``hl-``, the only form the
sanitizer keeps). The stylesheet has a light palette, and a dark one for documents that follow
the reader's colour scheme (a rendered notebook's page: ``<html class="theme-auto">``); the
site's own pages are light, so there the light palette holds whatever the system prefers.

``static/css/highlight.css`` is this module's output (a test checks it); after changing a
style here, write it again: ``python -m community.highlight > static/css/highlight.css``.
"""

from pygments.formatters import HtmlFormatter

HIGHLIGHT_PREFIX = "hl-"
LIGHT_STYLE = "default"
DARK_STYLE = "github-dark"


def _rules(style: str, scope: str, *, background: bool = False) -> str:
    formatter = HtmlFormatter(style=style, classprefix=HIGHLIGHT_PREFIX)
    selector = f"{scope} .highlight".strip()
    lines = formatter.get_background_style_defs(selector) if background else []
    return "\n".join([*lines, *formatter.get_token_style_defs(selector)])


def highlight_stylesheet() -> str:
    dark = _rules(DARK_STYLE, ".theme-auto", background=True).replace("\n", "\n  ")
    return (
        "/* Code highlighting (community.highlight, which writes this file): Pygments'\n"
        f"   {LIGHT_STYLE!r} style, and {DARK_STYLE!r} where a page follows a dark scheme. */\n"
        f"{_rules(LIGHT_STYLE, '')}\n"
        f"@media (prefers-color-scheme: dark) {{\n  {dark}\n}}\n"
    )


if __name__ == "__main__":
    print(highlight_stylesheet(), end="")
