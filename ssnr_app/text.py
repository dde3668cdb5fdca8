"""Text a user supplied (an uploaded file's name, its header, its cells), made inert.

Streamlit renders Markdown in captions, alerts and headers, and Plotly renders a few
HTML tags in titles: a header like `![x](http://host/x.png)` would make the browser
fetch an image. Every such string passes through `plain` (Markdown) or `plain_html`
(Plotly) before it is shown; tables and code blocks show text as it is.
"""

from __future__ import annotations

import html
import re

# What starts Markdown links, images, emphasis, code, HTML, maths and Streamlit's
# ":material/...:" and ":red[...]" directives, mid-line.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>!#~$:|])")


def plain(text: str) -> str:
    """`text` for Markdown: every special character backslash-escaped, so it shows as
    typed."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def plain_html(text: str) -> str:
    """`text` for a Plotly title or axis label."""
    return html.escape(text)
