"""Evaluation plots of the urgency model (PNG, 150 dpi): ROC, reliability diagram, confusion matrix,
subgroups.

Built on :mod:`training.plotting` (Agg backend, Figure objects, nothing global). Each function
writes ``path`` (parent folders created) and returns it as a :class:`~pathlib.Path`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from training.evaluation.metrics import (
    calibration_table,
    confusion_matrix,
    expected_calibration_error,
    malignancy_auc,
    sensitivity_specificity,
)
from training.evaluation.predictions import Predictions
from training.evaluation.report import EvaluationReport
from training.evaluation.subgroups import LOW_N
from training.plotting import roc_points, save_figure

_TIER_STYLE = {"urgent": ("tab:red", "o"), "priority": ("tab:orange", "s")}


def roc_curve_plot(preds: Predictions, thresholds: Mapping[str, float], path: str | os.PathLike[str]) -> Path:
    """Malignancy ROC curve with the AUC and the operating point of each threshold marked."""
    y, s = preds.y_malignant, preds.malignancy
    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="chance")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos and n_neg:
        fpr, tpr = roc_points(y, s)
        ax.plot(fpr, tpr, color="tab:blue", linewidth=2, label=f"model (AUC {malignancy_auc(y, s):.3f})")
    else:
        ax.text(0.5, 0.5, "ROC undefined: one class only", ha="center", va="center", transform=ax.transAxes)
    for name, t in sorted(thresholds.items(), key=lambda kv: -kv[1]):
        sens, spec = sensitivity_specificity(y, s, t)
        if math.isnan(sens) or math.isnan(spec):
            continue
        color, marker = _TIER_STYLE.get(name, ("tab:purple", "D"))
        ax.plot(
            [1 - spec],
            [sens],
            marker=marker,
            color=color,
            markersize=9,
            linestyle="none",
            label=f"{name} ≥ {t:.3f}: sens {sens:.3f}, spec {spec:.3f}",
        )
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("False positive rate (1 − specificity)")
    ax.set_ylabel("True positive rate (sensitivity)")
    ax.set_title(
        f"Malignancy ROC — {len(preds)} photos, {preds.n_patients} patients\n"
        f"{n_pos} malignant (BCC/SCC/MEL), {n_neg} benign"
    )
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path)


def calibration_plot(preds: Predictions, path: str | os.PathLike[str], n_bins: int = 10) -> Path:
    """Reliability diagram of the malignancy probability, with the photo count of each bin."""
    y, s = preds.y_malignant, preds.malignancy
    tab = calibration_table(y, s, n_bins)
    fig = Figure(figsize=(6, 7.5))
    ax, hist = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.08})
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="perfect calibration")
    centers = (tab["low"] + tab["high"]) / 2
    width = 1.0 / n_bins
    filled = tab["count"] > 0
    ax.bar(
        centers[filled],
        tab["frac_positive"][filled],
        width=width * 0.9,
        color="tab:blue",
        alpha=0.35,
        edgecolor="tab:blue",
        label="observed fraction malignant",
    )
    ax.plot(
        tab["mean_score"][filled],
        tab["frac_positive"][filled],
        marker="o",
        color="tab:blue",
        label="bin mean predicted vs observed",
    )
    for c, x, f in zip(tab["count"][filled], centers[filled], tab["frac_positive"][filled], strict=True):
        ax.annotate(f"n={c}", (x, f), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("Observed fraction malignant")
    ece = expected_calibration_error(y, s, n_bins) if len(preds) else float("nan")
    ax.set_title(
        f"Malignancy reliability diagram — {len(preds)} photos, {int(y.sum())} malignant\n"
        f"ECE ({n_bins} equal-width bins) = {ece:.3f}"
    )
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    hist.bar(centers, tab["count"], width=width * 0.9, color="0.5")
    hist.set_xlabel("Predicted malignancy probability")
    hist.set_ylabel("Photos")
    hist.grid(True, axis="y", alpha=0.3)
    return save_figure(fig, path)


def confusion_matrix_plot(preds: Predictions, path: str | os.PathLike[str]) -> Path:
    """Six-class confusion matrix normalized by true class (rows sum to 1), counts annotated."""
    k = len(preds.labels)
    cm = confusion_matrix(preds.y_true, preds.probs, k)
    support = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, support, out=np.zeros(cm.shape), where=support > 0)
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="Fraction of true class")
    for i in range(k):
        for j in range(k):
            if support[i, 0] == 0:
                text, color = "—", "black"
            else:
                text = f"{norm[i, j]:.2f}\n({cm[i, j]})"
                color = "white" if norm[i, j] > 0.6 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(k), preds.labels)
    ax.set_yticks(range(k), [f"{lab} (n={int(support[i, 0])})" for i, lab in enumerate(preds.labels)])
    mal = set(preds.malignant_labels)
    for tick in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        if tick.get_text().split(" ")[0] in mal:
            tick.set_fontweight("bold")
    ax.set_xlabel("Predicted class (argmax)")
    ax.set_ylabel("True class")
    ax.set_title(
        f"Confusion matrix, normalized by true class — {len(preds)} photos\n(malignant classes in bold)"
    )
    return save_figure(fig, path)


def subgroup_plot(report: EvaluationReport, key: str, path: str | os.PathLike[str]) -> Path:
    """Sensitivity and specificity at the urgent threshold per subgroup value (Wilson 95 % error
    bars), each value labelled with its number of photos and malignant photos."""
    if key not in report.subgroups:
        raise KeyError(f"report has no subgroup table {key!r}; has {sorted(report.subgroups)}")
    rows = report.subgroups[key]
    x = np.arange(len(rows))
    width = 0.38
    fig = Figure(figsize=(max(6.0, 1.3 * len(rows) + 3), 5))
    ax = fig.add_subplot()
    for offset, metric, color, label in (
        (-width / 2, "sensitivity", "tab:red", "sensitivity"),
        (width / 2, "specificity", "tab:blue", "specificity"),
    ):
        vals = np.array([getattr(r, metric) for r in rows], dtype=float)
        lows = np.array([getattr(r, f"{metric}_low") for r in rows], dtype=float)
        highs = np.array([getattr(r, f"{metric}_high") for r in rows], dtype=float)
        ok = ~np.isnan(vals)
        err = np.vstack([vals - lows, highs - vals])[:, ok]
        ax.bar(x[ok] + offset, vals[ok], width, color=color, alpha=0.75, label=label)
        ax.errorbar(x[ok] + offset, vals[ok], yerr=err, fmt="none", ecolor="black", capsize=3, linewidth=1)
        for xi in x[~ok]:
            ax.text(xi + offset, 0.02, "n/a", ha="center", va="bottom", fontsize=8, rotation=90)
    urgent = report.thresholds.get("urgent")
    overall = report.metrics.get("sensitivity_urgent")
    if overall is not None and not math.isnan(overall.point):
        ax.axhline(overall.point, color="tab:red", linestyle=":", linewidth=1, label="overall sensitivity")
    ax.set_xticks(x, [f"{r.value}{' †' if r.low_n else ''}\nn={r.n}\nmal={r.n_malignant}" for r in rows])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(key)
    ax.set_ylabel("At the urgent threshold")
    thr = f" (malignancy ≥ {urgent:.3f})" if urgent is not None else ""
    ax.set_title(
        f"Sensitivity / specificity by {key}{thr}\n"
        f"Wilson 95% intervals; † = fewer than {LOW_N} malignant or benign photos"
    )
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return save_figure(fig, path)


_VIEW_COLOURS = {
    "as_recorded": "tab:blue",
    "complete": "tab:green",
    "photo_only": "tab:red",
    "answered_only": "tab:purple",
}


def _views_axes(diagonal: str) -> tuple[Figure, Any]:
    """A square figure with the dashed diagonal (``diagonal`` in the legend)."""
    fig = Figure(figsize=(6.5, 6.5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label=diagonal)
    return fig, ax


def _view_scores(views: Mapping[str, Any]):
    """(view name, malignant?, malignancy probability) of every view."""
    for name, result in views.items():
        yield name, result.predictions.y_malignant, result.predictions.malignancy


def _finish(fig: Figure, ax: Any, path: str | os.PathLike[str], *, title: str, legend: str) -> Path:
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc=legend, fontsize=8)
    return save_figure(fig, path)


def views_roc_plot(
    views: Mapping[str, Any], thresholds: Mapping[str, float], path: str | os.PathLike[str]
) -> Path:
    """The malignancy ROC curve of every evaluation view side by side, the URGENT point of each marked."""
    fig, ax = _views_axes("chance")
    for name, y, s in _view_scores(views):
        if not (y.any() and (~y).any()):
            continue
        colour = _VIEW_COLOURS.get(name, "0.3")
        fpr, tpr = roc_points(y, s)
        label = f"{name.replace('_', ' ')} (n={len(y)}, AUC {malignancy_auc(y, s):.3f})"
        ax.plot(fpr, tpr, color=colour, linewidth=2, label=label)
        sens, spec = sensitivity_specificity(y, s, thresholds["urgent"])
        ax.plot([1 - spec], [sens], marker="o", color=colour, markersize=8, linestyle="none")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="1 − specificity")
    ax.set_ylabel("Sensitivity (malignant: BCC, SCC, MEL)")
    title = f"Malignancy ROC per view (dots: URGENT ≥ {thresholds['urgent']:.3f})"
    return _finish(fig, ax, path, title=title, legend="lower right")


def views_calibration_plot(views: Mapping[str, Any], path: str | os.PathLike[str], n_bins: int = 10) -> Path:
    """Reliability diagram of every evaluation view: observed fraction malignant per predicted-probability
    bin (equal width), with each view's expected calibration error."""
    fig, ax = _views_axes("perfect calibration")
    for name, y, s in _view_scores(views):
        if not len(y):
            continue
        tab = calibration_table(y, s, n_bins)
        filled = tab["count"] > 0
        ece = expected_calibration_error(y, s, n_bins)
        ax.plot(
            tab["mean_score"][filled],
            tab["frac_positive"][filled],
            marker="o",
            color=_VIEW_COLOURS.get(name, "0.3"),
            label=f"{name.replace('_', ' ')}: ECE {ece:.3f}",
        )
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="Predicted malignancy probability (calibrated)")
    ax.set_ylabel("Observed fraction malignant")
    title = f"Reliability per view ({n_bins} equal-width bins)"
    return _finish(fig, ax, path, title=title, legend="upper left")
