"""Metrics as Markdown tables (the CLI prints them; the reports embed them)."""

from __future__ import annotations

import math

from vanguard.metrics.protocols import NOTES, coverage_warning


def _fmt(v) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def metrics_table(metrics: dict) -> str:
    """One row per scalar metric (with its description where the protocol gives one), then per-category AUC; first
    the warning line when the figures do not cover the whole test set."""
    notes = {**NOTES, **metrics.get("notes", {})}
    warning = coverage_warning(metrics.get("coverage"))
    lines = [f"**{warning}**", ""] if warning else []
    lines += ["| metric | value | definition |", "|---|---|---|"]
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lines.append(f"| {key} | {_fmt(value)} | {notes.get(key, '')} |")
    per_cat = metrics.get("per_category_auc") or {}
    if per_cat:
        lines += ["", "| category | frame AUC (its videos + all normal videos) |", "|---|---|"]
        lines += [f"| {cat} | {_fmt(v)} |" for cat, v in per_cat.items()]
    return "\n".join(lines)
