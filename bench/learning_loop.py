"""The learning loop on real photos, through the HTTP API: PAD-UFES-20's fixed test patients are sent to a
service running the bundled models (each photo with the patient, the lesion and every answer the
dataset recorded), a dermatologist confirms each case's diagnosis (and a pathology result where the
dataset says the lesion was biopsied), then the monitoring endpoint judges the triage at submission and
the label export runs.

    python bench/learning_loop.py [--split test] [--limit N] [--consent none|all] [--data-dir ../shared/data]

Prints ``GET /v1/metrics/model``'s figures for those cases (sensitivity and specificity of the tier at
submission with Wilson intervals, the malignant cases triaged ROUTINE, calibration, the drift alerts)
and the export's counts and time. With ``--consent none`` (the default) the export must hold no photo:
the test patients never become training data; ``--consent all`` exports them (into a temporary folder
that is deleted) to time the export, and reads it as a training source beside the manifest: PAD's photos
are stored byte for byte (they carry no metadata), so the leakage check must refuse the same photos
twice (a real service's photos are new).

The service, its SQLite database and photo folder live in a temporary folder; nothing is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient
from tqdm import tqdm

from data_pipelines.build import build_manifest, training_rows
from data_pipelines.locations import default_data_dir
from data_pipelines.manifest import read_manifest
from data_pipelines.splits import LeakageError
from serving.app import create_app
from serving.cli import main
from serving.settings import Settings

#: each PAD-UFES-20 class as the dermatologist codes it (ICD-10-CM, the catalogue's codes)
ICD10 = {"ACK": "L57.0", "BCC": "C44.91", "MEL": "C43.9", "NEV": "D22.9", "SCC": "C44.92", "SEK": "L82.1"}
REPO = Path(__file__).resolve().parents[1]


def _cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return result.output


def _rate(r: dict) -> str:
    if not r["n"]:
        return "n/a (0 cases)"
    return f"{r['value']:.3f} ({r['low']:.3f}–{r['high']:.3f}), {r['k']}/{r['n']}"


def main_(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--manifest", type=Path, default=REPO / "var" / "data" / "manifest.csv")
    parser.add_argument("--split", default="test", choices=("test", "train"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--consent", default="none", choices=("none", "all"))
    args = parser.parse_args(argv)

    if not args.manifest.exists():
        build_manifest(args.data_dir, args.manifest, progress=True)
    rows = [r for r in read_manifest(args.manifest) if r.source == "pad_ufes_20" and r.split == args.split]
    rows = rows[: args.limit] if args.limit else rows

    with tempfile.TemporaryDirectory(prefix="dermatriage-loop-") as tmp:
        root = Path(tmp)
        env = {"DATABASE_URL": f"sqlite:///{root / 'loop.db'}", "DERMATRIAGE_PHOTO_DIR": str(root / "photos")}
        intake = _cli(env, "keys", "create", "--org", "loop", "--role", "intake").split()[-1]
        derm = _cli(
            env, "users", "create", "--org", "loop", "--name", "Dr. Loop", "--role", "dermatologist",
            "--jurisdiction", "BR-ES",
        ).split()[-1]  # fmt: skip
        # one dermatologist works every case at once: no per-key rate limit (a real one works slower)
        settings = Settings(
            database_url=env["DATABASE_URL"],
            photo_dir=root / "photos",
            rate_limit_intake_per_minute=0,
            rate_limit_dermatologist_per_minute=0,
        )
        headers = {"Authorization": f"Bearer {derm}"}
        started = time.perf_counter()
        with TestClient(create_app(settings)) as client:
            for row in tqdm(rows, desc="cases through the API", unit="case", file=sys.stderr):
                answers = {
                    **row.questionnaire,
                    "jurisdiction": "BR-ES",
                    "lesion_label": f"lesion {row.lesion_id}",
                    "consent_research": args.consent == "all",
                }
                r = client.post(
                    "/v1/cases",
                    data={
                        "questionnaire": json.dumps(answers),
                        "patient": json.dumps({"external_id": row.patient_id}),
                    },
                    files=[
                        (
                            "photos",
                            (Path(row.path).name, (args.data_dir / row.path).read_bytes(), "image/jpeg"),
                        )
                    ],
                    headers={"Authorization": f"Bearer {intake}", "Idempotency-Key": str(uuid.uuid4())},
                )
                r.raise_for_status()
                case = r.json()
                claimed = client.post("/v1/queue/claim", json={"case_id": case["id"]}, headers=headers)
                if claimed.status_code != 200:  # e.g. waiting for a retake: reviewed once it is queued
                    continue
                diagnosis = {
                    "code": ICD10[row.diagnosis],
                    "certainty": "confirmed",
                    "assessment": "As the dataset's diagnosis.",
                    "patient_plan": "As discussed.",
                }
                client.post(
                    f"/v1/cases/{case['id']}/diagnosis", json=diagnosis, headers=headers
                ).raise_for_status()
                if row.biopsied:
                    report = {
                        "icd10": ICD10[row.diagnosis],
                        "reported_on": time.strftime("%Y-%m-%d"),
                        "report": "-",
                    }
                    client.post(
                        f"/v1/cases/{case['id']}/pathology", json=report, headers=headers
                    ).raise_for_status()
            submitted = time.perf_counter() - started
            metrics = client.get("/v1/metrics/model?window_days=30", headers=headers).json()

        out = root / "export"
        t0 = time.perf_counter()
        summary = _cli(env, "data", "export-labels", "--out", str(out), "--org", "loop", "--no-progress")
        export_s = time.perf_counter() - t0
        exported = read_manifest(out / "manifest.csv")
        if args.consent == "none" and exported:
            raise SystemExit(f"the export holds {len(exported)} photos of patients who gave no consent")
        if exported:
            # PAD-UFES-20's photos carry no metadata: the service stores them byte for byte, so an export of
            # them repeats the manifest's files, and the leakage check must refuse to train on both
            try:
                combined = training_rows(args.manifest, label_export=out)
                print(f"training reads the export beside the manifest: {len(combined)} rows")
            except LeakageError as exc:
                first = str(exc).splitlines()[0]
                print(f"training refuses the export beside the manifest (the same photos twice): {first}")

    counts, tiers = metrics["counts"], metrics["tiers"]
    print(f"\n{len(rows)} {args.split} photos of PAD-UFES-20 through the API in {submitted:.0f} s")
    print(
        f"cases {counts['submitted']}, with an outcome {counts['labelled']} (by source {counts['by_source']})"
    )
    print(f"malignant {tiers['positives']}, not malignant {tiers['negatives']}")
    for point in tiers["operating_points"]:
        print(
            f"tier >= {point['at_least']:9s} sensitivity {_rate(point['sensitivity'])}; "
            f"specificity {_rate(point['specificity'])}"
        )
    print(f"malignant cases triaged ROUTINE: {len(metrics['routine_malignant'])}")
    cal = metrics["calibration"]
    ece = "n/a" if cal["ece"] is None else f"{cal['ece']:.3f}"
    print(f"calibration: {cal['cases']} cases, ECE {ece}; bins (mean predicted -> observed):")
    for b in cal["bins"]:
        print(f"  {b['mean_predicted']:.3f} -> {_rate(b['observed'])}")
    alerts = [f["label"] + f" ({f['group']})" for f in metrics["drift"]["figures"] if f["alert"]]
    print(f"drift alerts: {len(alerts)}: {', '.join(alerts) or 'none'}")
    print(f"export: {summary.splitlines()[0]} in {export_s:.2f} s")


if __name__ == "__main__":
    main_()
