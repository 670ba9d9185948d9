"""Do the served probabilities equal the tracked run's? Every test photo of a run goes through the
intake path (``ingest_photo``: validation, metadata strip, reduced decode) and the served model, and is
compared with the probabilities the run logged.

    python bench/served_vs_tracked.py [--run-dir var/runs/<run id>] [--model model/artifacts/urgency.onnx]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data_pipelines.manifest import read_manifest
from model.intake import PhotoLimits, ingest_photo
from model.loading import BUNDLED
from model.questionnaire import Questionnaire
from model.urgency_model import UrgencyModel
from training.config import REPO_ROOT
from training.evaluation.predictions import Predictions
from training.urgency.config import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run-dir", type=Path, default=None, help="default: the run of the bundled model")
    parser.add_argument("--model", type=Path, default=BUNDLED)
    args = parser.parse_args()
    model = UrgencyModel(args.model)
    run_dir = args.run_dir or REPO_ROOT / "var" / "runs" / model.model.contract.provenance["run_id"]
    config = TrainConfig.load(run_dir / "config.yaml")
    tracked = Predictions.from_csv(run_dir / "test_predictions.csv")
    rows = {r.image_id: r for r in read_manifest(config.manifest)}
    worst = 0.0
    for image_id, probs, malignancy in tqdm(
        list(zip(tracked.image_ids, tracked.probs, tracked.malignancy, strict=True)), unit="photo"
    ):
        row = rows[image_id]
        photo = ingest_photo(
            (config.data_dir / row.path).read_bytes(), filename=row.path, limits=PhotoLimits()
        )
        served = model.predict_photo(
            photo.analysis.rgb, Questionnaire(**row.questionnaire, jurisdiction="BR-ES")
        )
        diffs = [abs(served["diagnosis"][label] - p) for label, p in zip(tracked.labels, probs, strict=True)]
        worst = max(worst, *diffs, abs(served["malignancy"] - malignancy))
    print(
        f"{len(tracked.image_ids)} test photos: max |served - tracked| = {worst:.2e} "
        f"({'within' if worst <= 1e-4 else 'OVER'} 1e-4; served values are rounded to 1e-6)"
    )
    raise SystemExit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
