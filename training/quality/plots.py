"""Quality-evaluation plots (PNG): ROC curves, which defect the service named first, detection by
severity. Built on ``training.plotting`` (Agg backend, Figure objects, nothing global)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from training.evaluation.metrics import malignancy_auc
from training.plotting import roc_points, save_figure
from training.quality.data import CLEAN
from training.quality.scored import Scored


def roc_plot(s: Scored, path: Path) -> Path:
    """Left: retake (moderate/severe vs untouched) for the service, the model alone and the checks
    alone. Right: each defect's own output (that defect at moderate/severe vs untouched)."""
    clean = s.defect == CLEAN
    bad = s.severity >= 2
    both = clean | bad
    fig = Figure(figsize=(13, 6))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for name, values, style in (
        ("service (checks + model)", s.score, "-"),
        ("model alone", s.model, "--"),
        ("classical checks alone", s.classical, ":"),
    ):
        y, v = bad[both], values[both]
        fpr, tpr = roc_points(y, v)
        ax1.plot(fpr, tpr, style, label=f"{name}: AUC {malignancy_auc(y, v):.3f}")
    rate = s.retake[clean].mean()
    hit = s.retake[bad].mean()
    ax1.plot([rate], [hit], "ko", label=f"operating point: {rate:.1%} untouched sent back, {hit:.1%} caught")
    ax1.set_title(f"Retake: moderate/severe defects ({bad.sum()}) vs untouched ({clean.sum()})")
    for j, d in enumerate(s.defects):
        pos = (s.defect == d) & bad
        keep = clean | pos
        if pos.any():
            fpr, tpr = roc_points(pos[keep], s.defect_scores[keep, j])
            ax2.plot(fpr, tpr, label=f"{d}: {malignancy_auc(pos[keep], s.defect_scores[keep, j]):.3f}")
    ax2.set_title("Each defect's output: that defect (moderate/severe) vs untouched")
    for ax in (ax1, ax2):
        ax.plot([0, 1], [0, 1], color="0.8", lw=1)
        ax.set_xlabel("False-positive rate (untouched photos flagged)")
        ax.set_ylabel("True-positive rate")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def defect_confusion_plot(s: Scored, path: Path) -> Path:
    """Rows: the defect applied (moderate/severe); columns: the first defect the service named."""
    bad = s.severity >= 2
    named = sorted({*s.defects, *(x for x in s.first[bad] if x)}, key=lambda x: (x not in s.defects, x))
    cols = [*named, "accepted"]
    m = np.zeros((len(s.defects), len(cols)))
    for i, d in enumerate(s.defects):
        rows = bad & (s.defect == d)
        for first in s.first[rows]:
            m[i, cols.index(first or "accepted")] += 1
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(12, 8))
    ax = fig.add_subplot()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="Share of the applied defect's photos")
    for i in range(norm.shape[0]):
        for j in range(norm.shape[1]):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    f"{norm[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if norm[i, j] > 0.6 else "black",
                )
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(s.defects)), s.defects)
    ax.set_xlabel("First defect named to the patient")
    ax.set_ylabel("Defect applied (moderate or severe)")
    ax.set_title("Does the first instruction name the defect that was applied?")
    return save_figure(fig, path)


def detection_plot(s: Scored, path: Path) -> Path:
    """Share of photos sent back, per defect and severity (untouched photos as the first bar group)."""
    fig = Figure(figsize=(13, 5))
    ax = fig.add_subplot()
    groups = [CLEAN, *s.defects]
    width = 0.27
    for k, (sev, colour) in enumerate(((1, "tab:green"), (2, "tab:orange"), (3, "tab:red"))):
        values = []
        for g in groups:
            if g == CLEAN:  # one bar: untouched photos have no severity
                values.append(s.retake[s.defect == CLEAN].mean() if sev == 1 else 0.0)
                continue
            rows = (s.defect == g) & (s.severity == sev)
            values.append(s.retake[rows].mean() if rows.any() else 0.0)
        label = {1: "mild (may pass)", 2: "moderate", 3: "severe"}[sev]
        if sev == 1:
            label += " / untouched"
        ax.bar(np.arange(len(groups)) + (k - 1) * width, values, width, color=colour, label=label)
    ax.axhline(0.10, color="k", ls=":", lw=1, label="10 % (false-retake limit for untouched)")
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right")
    ax.set_ylabel("Sent back for a retake")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.set_title("How often the service asks for a retake, by defect and severity")
    return save_figure(fig, path)
