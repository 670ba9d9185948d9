"""TriageEngine.assess_photo: the urgency model reads a photo while its quality is judged; a usable
photo gets the reading, an unusable one none, whichever finishes first."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from factories import dark_jpeg, encode, good_jpeg

from model.intake import PhotoLimits, ingest_photo
from model.questionnaire import Questionnaire
from model.triage.engine import TriageEngine

QUESTIONNAIRE = Questionnaire(jurisdiction="US-CA", age=70, bleeding=True)


class SlowReader:
    """A stand-in urgency model: records the threads it read on, takes ``seconds`` per photo."""

    version = "urgency-stub"

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds, self.threads, self.done = seconds, [], 0

    def predict_photo(self, rgb, questionnaire):
        self.threads.append(threading.get_ident())
        time.sleep(self.seconds)
        self.done += 1
        return {"model": self.version, "malignancy": 0.5, "diagnosis": {"BCC": 0.5, "NEV": 0.5}}


def photo(data: bytes):
    return ingest_photo(data, filename="a.jpg", limits=PhotoLimits())


@pytest.mark.parametrize("seconds", [0.0, 0.2])
def test_a_usable_photo_gets_the_reading_however_long_it_takes(seconds):
    reader = SlowReader(seconds)
    assessment = TriageEngine(urgency_model=reader).assess_photo(photo(good_jpeg()), QUESTIONNAIRE)
    assert assessment.quality.usable
    assert assessment.predictions == {
        "model": "urgency-stub",
        "malignancy": 0.5,
        "diagnosis": {"BCC": 0.5, "NEV": 0.5},
    }
    assert reader.threads and reader.threads[0] != threading.get_ident()  # read beside the quality judgement


def test_an_unreadable_photo_gets_no_reading():
    reader = SlowReader(0.05)
    black = encode(np.zeros((600, 800, 3), np.uint8))
    assessment = TriageEngine(urgency_model=reader).assess_photo(photo(black), QUESTIONNAIRE)
    assert not assessment.quality.usable and assessment.predictions is None


def test_a_photo_that_could_be_better_is_still_read():
    reader = SlowReader(0.05)
    assessment = TriageEngine(urgency_model=reader).assess_photo(photo(dark_jpeg()), QUESTIONNAIRE)
    assert assessment.quality.verdict == "retake" and assessment.quality.usable
    assert assessment.predictions is not None


def test_without_an_urgency_model_only_the_quality_is_judged():
    assessment = TriageEngine().assess_photo(photo(good_jpeg()), QUESTIONNAIRE)
    assert assessment.quality.usable and assessment.predictions is None


def test_each_assessment_says_how_long_its_stages_took():
    reader = SlowReader(0.2)
    read = TriageEngine(urgency_model=reader).assess_photo(photo(good_jpeg()), QUESTIONNAIRE)
    stages = {t.stage: t for t in read.timings}
    assert set(stages) == {"quality", "urgency"}
    assert 0.2 <= stages["urgency"].seconds < 5  # the reader's sleep, timed on its own thread
    assert 0 < stages["quality"].seconds < 5
    assert all(t.started_ns <= t.ended_ns for t in read.timings)
    black = encode(np.zeros((600, 800, 3), np.uint8))
    dropped = TriageEngine(urgency_model=reader).assess_photo(photo(black), QUESTIONNAIRE)
    assert [t.stage for t in dropped.timings] == ["quality"]  # a reading that was dropped is not counted
