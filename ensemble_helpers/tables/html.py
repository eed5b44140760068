"""Safe HTML of a report table (every text value escaped) and its Jupyter display."""

from __future__ import annotations

import hashlib
import html
from typing import Any

import pandas as pd

# ----------------------------------------------------------------------------------------------
# HTML

_CSS = [
    {"selector": "", "props": "border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; "
                              "font-variant-numeric: tabular-nums; border-top: 2px solid #333; "
                              "border-bottom: 2px solid #333;"},
    {"selector": "caption", "props": "caption-side: top; text-align: left; font-weight: 600; "
                                     "padding: 0 0 0.4em 0; color: #222;"},
    {"selector": "thead th", "props": "border-bottom: 1px solid #333; padding: 4px 10px; text-align: center; "
                                      "vertical-align: bottom; font-weight: 600; background: none;"},
    {"selector": "thead th:first-child", "props": "text-align: left;"},
    {"selector": "td", "props": "padding: 2px 10px; text-align: center; white-space: nowrap; "
                                "border: none; background: none;"},
    {"selector": "td:first-child", "props": "text-align: left; white-space: normal;"},
    {"selector": "tbody tr:nth-child(even)", "props": "background: #f6f6f6;"},
    {"selector": "td.ens-label", "props": "font-weight: 600;"},
]



def _styler(df: pd.DataFrame, caption: str | None) -> "pd.io.formats.style.Styler":
    digest = hashlib.sha1(
        (df.to_csv() + repr(list(df.columns)) + (caption or "")).encode("utf-8")
    ).hexdigest()[:10]
    kinds = list(df.index.get_level_values("row_type")) if "row_type" in df.index.names else []
    df = df.reset_index(drop=True)  # Styler's classes need a unique index; it is hidden anyway
    st = df.style  # a Styler; uuid fixed below so the HTML is reproducible
    st.uuid = f"ens{digest}"
    st = st.hide(axis="index").format(na_rep="", precision=3, escape="html").format_index(escape="html", axis=1)
    if caption:
        st = st.set_caption(html.escape(str(caption)))
    st = st.set_table_styles(_CSS).set_table_attributes('class="ensemble-table"')
    if kinds:
        classes = pd.DataFrame(
            [["ens-label" if k == "label" else ""] + [""] * (df.shape[1] - 1) for k in kinds],
            index=df.index, columns=df.columns,
        )
        st = st.set_td_classes(classes)
    return st


def to_html(df: pd.DataFrame, *, caption: str | None = None, footnote: str | None = None) -> str:
    """A compact, self-contained HTML table; every text value is HTML-escaped.

    Parameters
    ----------
    df : DataFrame
        A table of this module (the index is not shown). Index level ``row_type == "label"``
        rows (from :func:`table_one`) are bold.
    caption : str, optional
        Title above the table.
    footnote : str, optional
        Note under the table; default ``df.attrs["footnote"]`` when set.

    Returns
    -------
    str
        ``<div>`` with a ``<style>`` scoped to this table's id, the ``<table>`` and the footnote.

    Notes
    -----
    During a report run the table is also kept for the run's ``.docx`` and ``.xlsx`` files
    (:func:`ensemble_helpers.export.register_table`): what the HTML shows is what they hold.

    Examples
    --------
    >>> "&lt;b&gt;" in to_html(pd.DataFrame({"x": ["<b>"]}))
    True
    """
    if footnote is None:
        footnote = df.attrs.get("footnote") or None
    from ensemble_helpers import (
        export,  # every table a report shows also goes to its .docx/.xlsx
    )

    export.register_table(df, caption, footnote)
    body = _styler(df, caption).to_html(doctype_html=False)
    note = (f'<p style="font-size: 0.8em; color: #555; margin: 0.2em 0 1em 0;">{html.escape(footnote)}</p>'
            if footnote else "")
    return f'<div class="ensemble-table-wrap">{body}{note}</div>'


def display_table(df: pd.DataFrame, caption: str | None = None, footnote: str | None = None) -> Any:
    """An object Jupyter (and nbconvert) shows as :func:`to_html`'s table.

    Returns
    -------
    IPython.display.HTML
    """
    from IPython.display import HTML

    return HTML(to_html(df, caption=caption, footnote=footnote))
