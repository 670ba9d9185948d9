"""The promotion gate: a candidate that loses sensitivity at URGENT on any view, complete-view
specificity, or more than 0.05 sensitivity in a Fitzpatrick group with >= 10 malignant photos is
refused; everything else passes."""

from __future__ import annotations

import pytest

from data_pipelines.manifest import ManifestRow
from model.triage.tiers import Tier
from training.urgency.gate import GATED_VIEWS, judge
from training.urgency.served import Reading, flip_causes, tier_flip_rate
from training.urgency.views import judge_view

LABELS = ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK")
MALIGNANT = ("BCC", "MEL", "SCC")
THRESHOLDS = {"urgent": 0.5, "priority": 0.3}


def photo_rows(n_malignant_by_fitzpatrick: dict[int, int], n_benign: int = 40) -> list[ManifestRow]:
    rows = []
    diagnoses = [("BCC", f) for f, n in n_malignant_by_fitzpatrick.items() for _ in range(n)]
    diagnoses += [("NEV", 2)] * n_benign
    for i, (diagnosis, fitzpatrick) in enumerate(diagnoses):
        rows.append(
            ManifestRow(
                image_id=f"img{i}",
                path=f"images/img{i}.png",
                sha256="0" * 64,
                source="pad_ufes_20",
                modality="smartphone",
                patient_id=f"PAT_{i}",
                lesion_id=str(i),
                diagnosis=diagnosis,
                malignant=diagnosis in MALIGNANT,
                biopsied=True,
                questionnaire={"fitzpatrick": fitzpatrick, "age": 60},
                split="test",
                fold=-1,
                width=100,
                height=100,
            )
        )
    return rows


def views(rows: list[ManifestRow], flagged: dict[str, set[int]]) -> dict[str, list]:
    """Every gated view, with the photos in ``flagged[view]`` read as malignant (URGENT)."""
    out = {}
    for view in GATED_VIEWS:
        readings = []
        for i, row in enumerate(rows):
            p = 0.8 if i in flagged[view] else 0.1
            diagnosis = tuple(p / 3 if label in MALIGNANT else (1 - p) / 3 for label in LABELS)
            tier = Tier.URGENT if i in flagged[view] else Tier.ROUTINE
            readings.append(Reading(row.image_id, p, diagnosis, tier, True))
        result = judge_view(
            view, rows, readings, THRESHOLDS, labels=LABELS, malignant=MALIGNANT, n_boot=20, seed=0
        )
        out[view] = [result]
    return out


ROWS = photo_rows({2: 20, 3: 12, 5: 4})
MALIGNANT_IDX = {i for i, r in enumerate(ROWS) if r.malignant}
BENIGN_IDX = sorted(set(range(len(ROWS))) - MALIGNANT_IDX)


def flagged(missed: dict[str, set[int]] | None = None, false_alarms: dict[str, int] | None = None):
    missed, false_alarms = missed or {}, false_alarms or {}
    return {
        v: (MALIGNANT_IDX - missed.get(v, set())) | set(BENIGN_IDX[: false_alarms.get(v, 10)])
        for v in GATED_VIEWS
    }


def test_the_same_readings_pass():
    decision = judge(views(ROWS, flagged()), views(ROWS, flagged()))
    assert decision.promoted, decision.reasons
    table = decision.to_markdown()
    assert "| complete | specificity at URGENT |" in table and "Fitzpatrick 2" in table
    assert "Fitzpatrick 5" not in table  # 4 malignant photos: shown nowhere, gated nowhere


def test_one_more_missed_cancer_on_any_view_is_refused():
    champion = views(ROWS, flagged())
    for view in GATED_VIEWS:
        one_missed = flagged(missed={view: {min(MALIGNANT_IDX)}})
        decision = judge(views(ROWS, one_missed), champion)
        assert not decision.promoted
        assert any(r.startswith(f"{view}: sensitivity at URGENT ") for r in decision.reasons), (
            decision.reasons
        )


def test_fewer_false_alarms_pass_but_more_on_the_complete_view_are_refused():
    champion = views(ROWS, flagged())
    assert judge(views(ROWS, flagged(false_alarms=dict.fromkeys(GATED_VIEWS, 5))), champion).promoted
    worse = judge(views(ROWS, flagged(false_alarms={"complete": 12})), champion)
    assert not worse.promoted and worse.reasons[0].startswith("complete: specificity at URGENT")
    # on the other views specificity is shown, not gated
    assert judge(views(ROWS, flagged(false_alarms={"photo_only": 12})), champion).promoted


def test_a_fitzpatrick_group_losing_more_than_005_is_refused_even_when_the_total_holds():
    type3 = sorted(i for i in MALIGNANT_IDX if ROWS[i].questionnaire["fitzpatrick"] == 3)
    type5 = sorted(i for i in MALIGNANT_IDX if ROWS[i].questionnaire["fitzpatrick"] == 5)
    # the champion misses two type-5 cancers; the candidate finds them and misses one type-3 cancer
    champion = views(ROWS, flagged(missed=dict.fromkeys(GATED_VIEWS, set(type5[:2]))))
    candidate = views(ROWS, flagged(missed={**dict.fromkeys(GATED_VIEWS, set()), "as_recorded": {type3[0]}}))
    decision = judge(candidate, champion)
    assert not decision.promoted
    assert decision.reasons == (
        f"as_recorded: sensitivity at URGENT, Fitzpatrick 3 {11 / 12:.3f} < champion 1.000 "
        "(loses at most 0.05)",
    )
    # a group of fewer than 10 malignant photos is not gated on its own
    small_loss = views(ROWS, flagged(missed=dict.fromkeys(GATED_VIEWS, {type5[0]})))
    small_gain = views(ROWS, flagged(missed=dict.fromkeys(GATED_VIEWS, set(type5[:2]))))
    assert judge(small_loss, small_gain).promoted


def test_readings_of_different_photos_cannot_be_compared():
    other = photo_rows({2: 20, 3: 12, 5: 4}, n_benign=41)
    with pytest.raises(ValueError, match="different photos"):
        judge(views(ROWS, flagged()), views(other, flagged()))


def test_flip_causes_split_the_flip_rate_between_the_quality_gate_and_the_model():
    def reading(p: float, tier: Tier, usable: bool = True) -> Reading:
        return Reading("x", p, (0.0,) * 6, tier, usable)

    before = [
        reading(0.6, Tier.URGENT),  # sent back after the change: the quality verdict
        reading(0.55, Tier.URGENT),  # the model drops below URGENT
        reading(0.35, Tier.PRIORITY),  # the model drops below PRIORITY: other
        reading(0.9, Tier.URGENT),  # unchanged
    ]
    after = [
        reading(0.6, Tier.ROUTINE, usable=False),
        reading(0.45, Tier.PRIORITY),
        reading(0.25, Tier.ROUTINE),
        reading(0.8, Tier.URGENT),
    ]
    causes = flip_causes(before, after, urgent=0.5)
    assert causes == {"quality_verdict": 0.25, "model_crosses_urgent": 0.25, "other": 0.25}
    assert sum(causes.values()) == tier_flip_rate(before, after) == 0.75
