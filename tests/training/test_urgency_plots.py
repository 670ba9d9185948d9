"""Plots of the urgency model's evaluation (training.urgency.plots)."""

from __future__ import annotations

from pathlib import Path

import pytest
from evaluation_data import binary_preds, evaluated, make_preds

from training.urgency.plots import calibration_plot, confusion_matrix_plot, roc_curve_plot, subgroup_plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


def test_plots_write_png_files(tmp_path: Path) -> None:
    preds = make_preds()
    thresholds = {"urgent": 0.5, "priority": 0.3}
    report = evaluated(preds)
    paths = [
        roc_curve_plot(preds, thresholds, tmp_path / "roc.png"),
        calibration_plot(preds, tmp_path / "calibration.png"),
        confusion_matrix_plot(preds, tmp_path / "nested" / "cm.png"),
        subgroup_plot(report, "fitzpatrick", tmp_path / "fitz.png"),
        subgroup_plot(report, "body_site", tmp_path / "site.png"),
    ]
    for p in paths:
        assert isinstance(p, Path) and _is_png(p), p
    with pytest.raises(KeyError):
        subgroup_plot(report, "no_such_group", tmp_path / "x.png")


def test_plots_survive_degenerate_data(tmp_path: Path) -> None:
    preds = binary_preds([1, 1, 1], [0.9, 0.8, 0.2])  # one class only; most classes absent
    assert _is_png(roc_curve_plot(preds, {"urgent": 0.5}, tmp_path / "roc.png"))
    assert _is_png(calibration_plot(preds, tmp_path / "cal.png"))
    assert _is_png(confusion_matrix_plot(preds, tmp_path / "cm.png"))
