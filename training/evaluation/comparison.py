"""Champion / candidate: is a candidate's evaluation no worse than the champion's?

A candidate is *no worse* than the champion, evaluated on the same data (same
:attr:`EvaluationReport.data_fingerprint`), iff both hold on the point estimates:

* ``candidate.malignancy_auc >= champion.malignancy_auc - auc_tolerance`` (default 0.005);
* ``candidate.sensitivity_urgent >= champion.sensitivity_urgent -
  sensitivity_tolerance`` (default 0.0: each model at its own validation-chosen urgent
  threshold; on the 187-photo test split 0.0 means "misses no more malignant photos").

Optionally (``specificity_tolerance`` not None) also specificity at urgent. Any of these
values being nan, or the data differing, makes the candidate not "no worse". A 1e-12 slack
absorbs float rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from training.evaluation.formatting import fmt, metric_title
from training.evaluation.metrics import SLACK
from training.evaluation.report import EvaluationReport

DEFAULT_AUC_TOLERANCE = 0.005
DEFAULT_SENSITIVITY_TOLERANCE = 0.0


class ComparisonRow(NamedTuple):
    metric: str
    candidate: float
    champion: float
    delta: float  # candidate - champion


@dataclass(frozen=True)
class Comparison:
    no_worse: bool
    rows: tuple[ComparisonRow, ...]
    reasons: tuple[str, ...]

    def to_markdown(self) -> str:
        lines = ["| Metric | Candidate | Champion | Δ |", "|---|---:|---:|---:|"]
        for r in self.rows:
            delta = "n/a" if math.isnan(r.delta) else f"{r.delta:+.3f}"
            lines.append(f"| {metric_title(r.metric)} | {fmt(r.candidate)} | {fmt(r.champion)} | {delta} |")
        verdict = "NO WORSE" if self.no_worse else "WORSE (or not comparable)"
        return "\n".join(lines) + f"\n\nVerdict: {verdict}\n" + "".join(f"- {r}\n" for r in self.reasons)


_COMPARED = (
    "malignancy_auc",
    "sensitivity_urgent",
    "specificity_urgent",
    "sensitivity_priority",
    "specificity_priority",
    "flagged_rate_urgent",
    "balanced_accuracy",
    "malignancy_ece",
    "malignancy_brier",
)


def compare(
    candidate: EvaluationReport,
    champion: EvaluationReport,
    *,
    auc_tolerance: float = DEFAULT_AUC_TOLERANCE,
    sensitivity_tolerance: float = DEFAULT_SENSITIVITY_TOLERANCE,
    specificity_tolerance: float | None = None,
) -> Comparison:
    """Is ``candidate`` no worse than ``champion``? Rule in the module docstring."""
    rows = tuple(
        ComparisonRow(m, candidate.value(m), champion.value(m), candidate.value(m) - champion.value(m))
        for m in _COMPARED
        if m in candidate.metrics or m in champion.metrics
    )
    reasons: list[str] = []
    ok = True
    fa, fb = candidate.data_fingerprint, champion.data_fingerprint
    if fa and fb and fa != fb:
        ok = False
        reasons.append("not comparable: the reports were computed on different data (fingerprints differ)")
    elif not (fa and fb):
        reasons.append("warning: a report has no data fingerprint; same test data assumed")

    criteria = [("malignancy_auc", auc_tolerance), ("sensitivity_urgent", sensitivity_tolerance)]
    if specificity_tolerance is not None:
        criteria.append(("specificity_urgent", specificity_tolerance))
    for metric, tol in criteria:
        cand, champ = candidate.value(metric), champion.value(metric)
        if math.isnan(cand) or math.isnan(champ):
            ok = False
            reasons.append(f"{metric}: undefined (candidate {fmt(cand)}, champion {fmt(champ)})")
            continue
        passed = cand >= champ - tol - SLACK
        ok = ok and passed
        verdict = "ok" if passed else "WORSE"
        reasons.append(
            f"{metric}: candidate {cand:.4f} vs champion {champ:.4f} - tolerance {tol:g} "
            f"(delta {cand - champ:+.4f}): {verdict}"
        )
    return Comparison(no_worse=ok, rows=rows, reasons=tuple(reasons))
