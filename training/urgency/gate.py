"""The promotion gate of the urgency model: is a candidate at least as safe as the champion in what
serving does with the test photos?

Both models are read through the serving path (``training.urgency.evaluation.serving_figures``:
photo intake, quality verdict, the model at its own thresholds, red-flag rules, tier) in the views
(a) as recorded, (b) complete (the mean over the seeded draws) and (c) photo only. The candidate is
refused when, on the point estimates:

* its sensitivity at URGENT (malignant photos given URGENT or EMERGENCY) is lower on any view;
* its specificity at URGENT on the complete view is lower (what a real intake sends);
* on any view, any Fitzpatrick group (as recorded) with at least ``MIN_MALIGNANT`` malignant photos
  loses more than ``GROUP_TOLERANCE`` sensitivity at URGENT.

Everything else (AUC, calibration, flagged share) is shown beside them and decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.triage.tiers import Tier
from training.evaluation.formatting import fmt
from training.urgency.views import ViewResult

GATED_VIEWS = ("as_recorded", "complete", "photo_only")
MIN_MALIGNANT = 10
GROUP_TOLERANCE = 0.05
SLACK = 1e-9


@dataclass(frozen=True)
class GateRow:
    view: str
    measure: str
    candidate: float
    champion: float
    rule: str  # "" when the row is shown only

    @property
    def delta(self) -> float:
        return self.candidate - self.champion


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reasons: tuple[str, ...]
    rows: tuple[GateRow, ...]

    def to_markdown(self) -> str:
        lines = ["| View | Measure | Candidate | Champion | Δ | Rule |", "|---|---|---:|---:|---:|---|"]
        for r in self.rows:
            delta = "n/a" if np.isnan(r.delta) else f"{r.delta:+.3f}"
            lines.append(
                f"| {r.view} | {r.measure} | {fmt(r.candidate)} | {fmt(r.champion)} | {delta} | {r.rule} |"
            )
        verdict = "PROMOTE" if self.promoted else "REFUSE"
        return "\n".join(lines) + f"\n\nVerdict: {verdict}\n" + "".join(f"- {r}\n" for r in self.reasons)


def flagged_sensitivity(results: Sequence[ViewResult], group: str | None = None, key: str = "") -> float:
    """The share of malignant photos given URGENT or above, averaged over ``results`` (the draws of
    one view), within the photos whose recorded ``key`` is ``group`` when given."""
    values = []
    for result in results:
        malignant = np.asarray(result.predictions.y_malignant, bool)
        if group is not None:
            malignant &= result.predictions.groups[key] == group
        flagged = np.asarray([x.tier >= Tier.URGENT for x in result.readings])
        values.append(float(flagged[malignant].mean()) if malignant.any() else float("nan"))
    return float(np.mean(values))


def flagged_specificity(results: Sequence[ViewResult]) -> float:
    values = []
    for result in results:
        benign = ~np.asarray(result.predictions.y_malignant, bool)
        flagged = np.asarray([x.tier >= Tier.URGENT for x in result.readings])
        values.append(float((~flagged[benign]).mean()) if benign.any() else float("nan"))
    return float(np.mean(values))


def _gated_groups(results: Sequence[ViewResult], key: str, min_malignant: int) -> list[str]:
    preds = results[0].predictions
    malignant = np.asarray(preds.y_malignant, bool)
    groups = preds.groups[key]
    return [str(g) for g in np.unique(groups) if int((malignant & (groups == g)).sum()) >= min_malignant]


def judge(
    candidate: dict[str, Sequence[ViewResult]],
    champion: dict[str, Sequence[ViewResult]],
    *,
    min_malignant: int = MIN_MALIGNANT,
    group_tolerance: float = GROUP_TOLERANCE,
) -> GateDecision:
    """``candidate`` and ``champion``: view -> its results (several for the complete view's draws),
    on the same photos. The rule is in the module docstring."""
    rows: list[GateRow] = []
    refusals: list[str] = []

    def gate(view: str, measure: str, cand: float, champ: float, tolerance: float, rule: str) -> None:
        rows.append(GateRow(view, measure, cand, champ, rule))
        if np.isnan(cand) or np.isnan(champ):
            refusals.append(f"{view}: {measure} is undefined (candidate {cand}, champion {champ})")
        elif cand < champ - tolerance - SLACK:
            refusals.append(f"{view}: {measure} {cand:.3f} < champion {champ:.3f} ({rule})")

    for view in GATED_VIEWS:
        cand, champ = candidate[view], champion[view]
        if [r.predictions.image_ids for r in cand] != [r.predictions.image_ids for r in champ]:
            raise ValueError(f"view {view}: the candidate and the champion were read on different photos")
        gate(
            view,
            "sensitivity at URGENT",
            flagged_sensitivity(cand),
            flagged_sensitivity(champ),
            0.0,
            "no drop",
        )
        if view == "complete":
            gate(
                view,
                "specificity at URGENT",
                flagged_specificity(cand),
                flagged_specificity(champ),
                0.0,
                "no drop",
            )
        else:
            rows.append(
                GateRow(
                    view, "specificity at URGENT", flagged_specificity(cand), flagged_specificity(champ), ""
                )
            )
        for group in _gated_groups(cand, "fitzpatrick", min_malignant):
            gate(
                view,
                f"sensitivity at URGENT, Fitzpatrick {group}",
                flagged_sensitivity(cand, group, "fitzpatrick"),
                flagged_sensitivity(champ, group, "fitzpatrick"),
                group_tolerance,
                f"loses at most {group_tolerance:.2f}",
            )
        for measure in ("malignancy_auc", "malignancy_ece"):
            rows.append(
                GateRow(
                    view,
                    measure.replace("_", " "),
                    float(np.mean([r.report.value(measure) for r in cand])),
                    float(np.mean([r.report.value(measure) for r in champ])),
                    "",
                )
            )
    if refusals:
        return GateDecision(False, tuple(refusals), tuple(rows))
    kept = "no sensitivity at URGENT lost on any view or Fitzpatrick group; complete-view specificity kept"
    return GateDecision(True, (kept,), tuple(rows))
