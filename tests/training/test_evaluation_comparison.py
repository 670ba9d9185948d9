"""Candidate vs champion (training.evaluation.comparison)."""

from __future__ import annotations

import pytest
from evaluation_data import evaluated, make_preds

from training.evaluation.bootstrap import Interval
from training.evaluation.comparison import compare
from training.evaluation.report import EvaluationReport


def crafted(auc: float, sens: float, spec: float = 0.5, fingerprint: str = "data-1") -> EvaluationReport:
    return EvaluationReport(
        metrics={
            "malignancy_auc": Interval(auc, auc - 0.05, auc + 0.05),
            "sensitivity_urgent": Interval(sens, sens - 0.05, min(1.0, sens + 0.05)),
            "specificity_urgent": Interval(spec, spec - 0.05, spec + 0.05),
        },
        thresholds={"urgent": 0.4},
        data_fingerprint=fingerprint,
    )


@pytest.mark.parametrize(
    ("cand", "champ", "no_worse"),
    [
        ((0.900, 0.950), (0.900, 0.950), True),  # equal
        ((0.896, 0.950), (0.900, 0.950), True),  # AUC within the 0.005 tolerance
        ((0.895, 0.950), (0.900, 0.950), True),  # exactly at the tolerance
        ((0.894, 0.970), (0.900, 0.950), False),  # AUC too low, better sensitivity does not help
        ((0.950, 0.940), (0.900, 0.950), False),  # one more missed malignancy is worse
        ((0.910, 0.960), (0.900, 0.950), True),  # better on both
        ((float("nan"), 0.960), (0.900, 0.950), False),  # undefined is not "no worse"
    ],
)
def test_compare_decisions(cand: tuple[float, float], champ: tuple[float, float], no_worse: bool) -> None:
    result = compare(crafted(*cand), crafted(*champ))
    assert result.no_worse is no_worse
    assert len(result.reasons) >= 2
    row = next(r for r in result.rows if r.metric == "malignancy_auc")
    assert (row.candidate, row.champion) == pytest.approx((cand[0], champ[0]), nan_ok=True)
    assert row.delta == pytest.approx(cand[0] - champ[0], nan_ok=True)


def test_compare_options_and_different_data() -> None:
    assert compare(crafted(0.9, 0.95), crafted(0.9, 0.95, fingerprint="data-2")).no_worse is False
    loose = compare(crafted(0.9, 0.94), crafted(0.9, 0.95), sensitivity_tolerance=0.02)
    assert loose.no_worse is True
    strict_spec = compare(
        crafted(0.9, 0.95, spec=0.4), crafted(0.9, 0.95, spec=0.5), specificity_tolerance=0.0
    )
    assert strict_spec.no_worse is False
    assert "Verdict" in strict_spec.to_markdown()


def test_compare_on_evaluated_reports() -> None:
    champion = evaluated(make_preds(signal=1.5))
    candidate = evaluated(make_preds(signal=3.0))
    assert compare(candidate, champion).no_worse is True
    assert compare(champion, candidate).no_worse is False
