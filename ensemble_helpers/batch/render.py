"""Rendering: an executed notebook -> one self-contained, offline HTML page.

nbconvert's ``HTMLExporter`` (lab template, scripts from CDNs removed, images embedded), plus the
failure banner and the provenance footer the runner adds.
"""
from __future__ import annotations

import contextlib
import dataclasses
import html
import logging
import re
import threading
from pathlib import Path
from typing import Any

from ensemble_helpers.batch.runs import RunError, RunSpec, _shorten
from ensemble_helpers.disclosure import data_identifiers, publishable_notebook, scrub_text

__all__ = ["external_resources", "publishable_error"]

_render_lock = threading.Lock()
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{#- The lab template links require.js, MathJax and mermaid from a CDN: drop them (offline). -#}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{#- A figure's alt text is its output metadata "alt" (set by ensemble_helpers.plots' display hook). -#}
{%- block data_png scoped -%}
{%- set alttext = output | get_metadata('alt', 'image/png') -%}
{%- if alttext %}{{ super() | replace('<img src=', '<img alt="' ~ (alttext | escape_html) ~ '" src=', 1) }}
{%- else %}{{ super() }}{% endif -%}
{%- endblock data_png -%}
"""


_warmup: threading.Thread | None = None
_exporters: dict[bool, tuple[Any, threading.Lock]] = {}  # per show_code; built once per process


def _to_html(nb: Any, show_code: bool, name: str) -> str:
    """Render with a cached ``HTMLExporter`` (one per process and ``show_code``; a lock keeps
    it safe when a Dask worker runs several tasks in threads)."""
    with _render_lock:
        if show_code not in _exporters:
            from jinja2 import DictLoader
            from nbconvert import HTMLExporter

            quiet = logging.getLogger(f"{__name__}.nbconvert")
            quiet.setLevel(logging.ERROR)
            exporter = HTMLExporter(
                template_name="lab",
                extra_loaders=[DictLoader({"ensemble_offline.html.j2": _OFFLINE_TEMPLATE})],
                template_file="ensemble_offline.html.j2",
                exclude_input=not show_code,
                exclude_input_prompt=not show_code,
                exclude_output_prompt=True,
                embed_images=True,  # markdown images too; outputs are base64 PNG already
                mathjax_url="",
                require_js_url="",
                log=quiet,
            )
            _exporters[show_code] = (exporter, threading.Lock())
        exporter, lock = _exporters[show_code]
    with lock:
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
    return body


def warm_up() -> None:
    """Compile the HTML template and import nbconvert's lazy parts (~0.5 s) in a background
    thread, e.g. while the first kernel starts; ``_render`` waits for it."""
    global _warmup

    def warm() -> None:
        with contextlib.suppress(Exception):
            import nbformat

            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("*warm-up*"),
                                                 nbformat.v4.new_code_cell("1")])
            _to_html(nb, False, "warm-up")

    _warmup = threading.Thread(target=warm, name="nbconvert-warmup", daemon=True)
    _warmup.start()


def _render(spec: RunSpec, executed: Path, target: Path, error: RunError | None, run_date: str) -> None:
    import nbformat

    if _warmup is not None:
        _warmup.join()
    nb = nbformat.read(executed, as_version=4)
    # the published .ipynb and its HTML carry the same, scrubbed text: project-relative paths,
    # no patient or site id of the data file (ensemble_helpers.disclosure.files)
    ids = data_identifiers(spec.data_file)
    publishable_notebook(nb, spec.cwd, ids)
    nbformat.write(nb, executed)
    title = spec.parameters.get("title")
    name = f"{title} - {spec.notebook}" if isinstance(title, str) and title else spec.run_id
    body = _to_html(nb, spec.show_code, name)
    if error:
        error = publishable_error(error, spec.cwd, ids)
        body = _insert_after_open(body, "main", _failure_banner(spec, error))
    body = _insert_before_close(body, "main", _provenance_footer(spec, run_date))
    target.write_text(body, encoding="utf-8")


def publishable_error(error: RunError, root: str | None, ids: set[str] | frozenset[str]) -> RunError:
    """``error`` with its message and cell source scrubbed (no absolute path, no identifier);
    the row numbers of a rejected data file stay."""
    return dataclasses.replace(error, evalue=scrub_text(error.evalue, root, ids),
                               source=scrub_text(error.source, root, ids))


_EXTERNAL = re.compile(
    r"<(script|link|img|iframe|source|video|audio|embed)\b[^>]*?\b(src|href)\s*=\s*[\"']?\s*(https?:)?//",
    re.IGNORECASE)


def external_resources(page: str) -> list[str]:
    """Tags in ``page`` that load a script, stylesheet, image or frame over the network.

    Links the reader may click (``<a href>``) are not resources and are not reported.

    Examples
    --------
    >>> external_resources('<script src="https://cdn.example/x.js"></script><a href="https://x">x</a>')
    ['<script src="https://']
    """
    return [m.group(0) for m in _EXTERNAL.finditer(page)]


def _insert_after_open(page: str, tag: str, snippet: str) -> str:
    match = re.search(rf"<{tag}\b[^>]*>", page) or re.search(r"<body\b[^>]*>", page)
    if match is None:
        return snippet + page
    return page[:match.end()] + snippet + page[match.end():]


def _insert_before_close(page: str, tag: str, snippet: str) -> str:
    for closing in (f"</{tag}>", "</body>"):
        position = page.rfind(closing)
        if position != -1:
            return page[:position] + snippet + page[position:]
    return page + snippet


def _failure_banner(spec: RunSpec, error: RunError) -> str:
    esc = html.escape
    rows = [f"<strong>This run failed</strong> ({esc(spec.run_id)}). The outputs below stop at the"
            " failing cell; the last good report, if any, is kept beside this file."]
    if error.cell_index is not None:
        where = f"cell {error.cell_index + 1}"
        if error.execution_count is not None:
            where = f"In [{error.execution_count}], {where} of the executed notebook"
        rows.append(f"<div>Failing cell: {esc(where)}</div>")
        if error.source:
            rows.append('<pre style="background:#fff;border:1px solid #f5c2c7;padding:.5em;'
                        f'white-space:pre-wrap">{esc(_shorten(error.source, 1500))}</pre>')
    rows.append(f"<div><code>{esc(error.ename)}</code>: {esc(_shorten(error.evalue, 2000))}</div>")
    return ('<div role="alert" class="ensemble-failure" style="margin:1em 2em;padding:1em;'
            'border:2px solid #d1242f;background:#ffebe9;color:#1f2328;font-family:system-ui,'
            f'sans-serif">{"".join(rows)}</div>')


def _provenance_footer(spec: RunSpec, run_date: str) -> str:
    esc = html.escape
    inputs = spec.inputs
    display = spec.display

    def row(label: str, value: str, digest: str | None = None) -> str:
        code = f" <code>sha256 {esc(digest)}</code>" if digest else ""
        return (f"<tr><th style='text-align:left;padding-right:1em'>{esc(label)}</th>"
                f"<td>{esc(value)}{code}</td></tr>")

    data_value = display.get("data_file") or "—"
    if display.get("data_file") and not inputs.get("data_sha256"):
        data_value += " (not found)"
    versions = inputs.get("versions", {})
    rows = [
        row("Parameter set", spec.param_set),
        row("Parameter file", display.get("param_file", ""), inputs.get("param_sha256")),
        row("Notebook", display.get("notebook", ""), inputs.get("notebook_sha256")),
        row("Data file", data_value, inputs.get("data_sha256")),
        row("ensemble_helpers", versions.get("ensemble-helpers", "?"), inputs.get("package_sha256")),
        row("Packages", ", ".join(f"{k} {v}" for k, v in versions.items() if k != "ensemble-helpers")),
        row("Run date (UTC)", run_date),
    ]
    return ('<footer class="ensemble-provenance" style="margin:2em;padding-top:1em;border-top:1px solid'
            ' #d0d7de;color:#57606a;font:12px system-ui,sans-serif"><div><strong>Provenance</strong>'
            f'</div><table style="border-collapse:collapse">{"".join(rows)}</table></footer>')
