"""Self-contained HTML pages (the harness's report.html, `variformer inspect`'s index.html): one file that opens
with a double click, offline, and never touches the network.

Conventions every page follows:
- everything is inline: CSS and script in the file, pictures as `data:` PNG URIs;
- a Content-Security-Policy meta tag forbids every fetch (`default-src 'none'`) and lets run only the page's own
  script and style, named by their sha256 (so even a string that escaped escaping could not run);
- text from data or model output is escaped (`escape`) or, on the script side, set with `textContent`;
- data for the script travels as JSON in `<script type="application/json">` with `<`, `>` and `&` escaped
  (`json_script`), so no value can close the tag.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import Any

escape = html.escape


def _source_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(style: str, script: str = "") -> str:
    """No fetch of any kind; only the given inline style and script run; pictures only from data: URIs."""
    scripts = _source_hash(script) if script else "'none'"
    return (
        f"default-src 'none'; style-src {_source_hash(style)}; script-src {scripts}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def page(title: str, body: str, style: str, script: str = "") -> str:
    """The whole document: `body` is HTML the caller escaped; `style` and `script` are inlined verbatim."""
    csp = content_security_policy(style, script)
    script_tag = f"<script>{script}</script>" if script else ""
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_attribute(csp)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{style}</style></head>\n<body>\n{body}\n{script_tag}\n"
        "</body></html>\n"
    )


def _attribute(text: str) -> str:
    """`text` escaped for a double-quoted attribute, its single quotes kept (CSP source keywords read as is)."""
    return escape(text, quote=False).replace('"', "&quot;")


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def json_script(element_id: str, value: Any) -> str:
    """`value` as JSON in a non-executed script element; `<`, `>`, `&` and the JavaScript line separators are
    written as \\u escapes, so the text can never end the element or start markup."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, code in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, code)
    return f'<script type="application/json" id="{escape(element_id)}">{text}</script>'


def table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table of plain-text cells (each escaped)."""
    head = "<thead><tr>" + "".join(f"<th>{escape(cell)}</th>" for cell in header) + "</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    attribute = f' class="{escape(cls)}"' if cls else ""
    return f"<table{attribute}>{head}<tbody>{body}</tbody></table>"


def figure(png: bytes, alt: str, caption: str = "") -> str:
    caption = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{png_data_uri(png)}" alt="{escape(alt)}">{caption}</figure>'


__all__ = ["content_security_policy", "escape", "figure", "json_script", "page", "png_data_uri", "table"]
