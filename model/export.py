"""Export an ``UrgencyNet`` to ONNX with its ``ModelContract`` beside it, and check that
onnxruntime (the serving path, ``model.runtime.OnnxModel``) agrees with torch.

Training-side only (imports torch). The exporter is torch's TorchScript-based one
(``dynamo=False``): it works offline and needs no onnxscript. Graph: inputs ``image``
(N, 3, S, S) and, unless fusion is "image", ``questionnaire`` (N, F); outputs ``diagnosis_probs``
(N, L) and ``malignancy_prob`` (N,); batch axis dynamic; opset 17.

The "questionnaire"-only baseline is not exportable: the serving contract always has an image
input, and that variant would carry an unused one. Evaluate it in torch.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from model import features
from model.contract import Calibration, ModelContract, Output, QuestionnaireInput, sha256_file
from model.networks import ExportWrapper, NetworkConfig, UrgencyNet
from model.questionnaire import BOOLEAN_FIELDS, BodySite, Sex
from model.runtime import OnnxModel

OPSET = 17
IMAGE_INPUT = "image"
QUESTIONNAIRE_INPUT = "questionnaire"
DIAGNOSIS_OUTPUT = "diagnosis_probs"
MALIGNANCY_OUTPUT = "malignancy_prob"


class ParityError(AssertionError):
    """onnxruntime's outputs differ from torch's by more than the tolerance."""


@dataclass(frozen=True)
class ParityReport:
    max_abs_diff_diagnosis: float
    max_abs_diff_malignancy: float
    passed: bool
    n: int = 0
    atol: float = 0.0


def write_onnx(
    module: torch.nn.Module,
    args: tuple[torch.Tensor, ...],
    out_path: Path,
    *,
    inputs: list[str],
    outputs: list[str],
    doc: str,
) -> None:
    """Trace ``module`` (eval mode) on ``args`` into ``out_path``: opset 17, batch axis dynamic,
    constant folding, ``onnx.checker`` (full check) before the file is written."""
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo (which needs onnxscript, absent
        # here); it says so with two DeprecationWarnings on every call, ignored here and only here.
        warnings.filterwarnings(
            "ignore",
            message="You are using the legacy TorchScript-based ONNX export",
            category=DeprecationWarning,
        )
        warnings.filterwarnings(
            "ignore",
            message="The feature will be removed",
            category=DeprecationWarning,
            module=r"torch\.onnx",
        )
        torch.onnx.export(
            module,
            args,
            buffer,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes={n: {0: "batch"} for n in inputs + outputs},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    proto.doc_string = doc
    onnx.checker.check_model(proto, full_check=True)
    Path(out_path).write_bytes(proto.SerializeToString())


def export_onnx(
    net: UrgencyNet,
    cfg: NetworkConfig,
    out_path: Path,
    *,
    version: str,
    name: str = "urgency",
    thresholds: dict[str, float] | None = None,
    provenance: dict[str, Any] | None = None,
    calibration: Calibration | None = None,
    reads: tuple[str, ...] = (),
) -> ModelContract:
    """Write ``out_path`` (.onnx) and its contract (same stem, .json); returns the contract.
    ``calibration`` goes into the graph (and the contract); ``reads``: the questions the model reads.

    ``net`` is not modified (it is copied into eval mode). ``cfg.to_dict()`` is recorded in the
    contract's provenance under ``"network"`` unless the caller's provenance already has that key."""
    if not cfg.uses_image:
        raise ValueError(
            "fusion 'questionnaire' is not exportable: the serving contract always has an image input"
        )
    if net.cfg != cfg:
        raise ValueError("net was built from a different NetworkConfig than cfg")
    out_path = Path(out_path)
    if out_path.suffix != ".onnx":
        raise ValueError(f"{out_path}: expected a .onnx path")
    out_path.parent.mkdir(parents=True, exist_ok=True)

    wrapper = ExportWrapper(net, calibration)
    size = cfg.image_size
    args: tuple[torch.Tensor, ...] = (torch.zeros(2, 3, size, size),)
    input_names = [IMAGE_INPUT]
    if cfg.uses_questionnaire:
        args += (torch.zeros(2, cfg.n_features),)
        input_names.append(QUESTIONNAIRE_INPUT)
    output_names = [DIAGNOSIS_OUTPUT, MALIGNANCY_OUTPUT]

    write_onnx(wrapper, args, out_path, inputs=input_names, outputs=output_names, doc=f"{name} {version}")

    provenance = dict(provenance or {})
    provenance.setdefault("network", cfg.to_dict())
    contract = ModelContract(
        name=name,
        version=version,
        image=cfg.image_input(),
        questionnaire=QuestionnaireInput(name=QUESTIONNAIRE_INPUT, reads=tuple(reads))
        if cfg.uses_questionnaire
        else None,
        outputs={
            "diagnosis": Output(DIAGNOSIS_OUTPUT, tuple(cfg.labels)),
            "malignancy": Output(MALIGNANCY_OUTPUT),
        },
        thresholds=dict(thresholds or {}),
        calibration=calibration,
        provenance=provenance,
    )
    contract = replace(contract, onnx_sha256=sha256_file(out_path))  # of what is on disk
    contract.save(out_path.with_suffix(".json"))
    return contract


def parity_inputs(cfg: NetworkConfig, n: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, realistic inputs: images as normalized noise (uint8 RGB noise, blurred a little,
    through the contract's mean/std) and questionnaire vectors of plausible values with some
    questions unanswered (value 0, ``*_missing`` flag 1); row 0 has every question missing."""
    rng = np.random.default_rng(seed)
    spec = cfg.image_input()
    size = cfg.image_size
    coarse = rng.integers(0, 256, (n, size // 8 + 1, size // 8 + 1, 3)).astype(np.float32)
    fine = np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)[:, :size, :size]
    rgb = np.clip(fine + rng.normal(0, 20, fine.shape), 0, 255) / 255.0
    mean, std = np.asarray(spec.mean, np.float32), np.asarray(spec.std, np.float32)
    images = ((rgb - mean) / std).transpose(0, 3, 1, 2).astype(np.float32)

    if cfg.n_features == features.N_FEATURES:
        rows = [random_answers(rng, 1.0 if i == 0 else rng.uniform(0.0, 0.6)) for i in range(n)]
        q = features.encode_many(rows)
    else:  # a custom width: 0/1 values
        q = rng.integers(0, 2, (n, cfg.n_features)).astype(np.float32)
    return images, q


def random_answers(rng: np.random.Generator, missing_rate: float) -> dict[str, Any]:
    """A questionnaire as a mapping (for ``features.encode``), each answer left out (None) with
    probability ``missing_rate``."""
    draws: dict[str, Any] = {
        "age": int(rng.integers(0, 100)),
        "sex": rng.choice(list(Sex)),
        "body_site": rng.choice(list(BodySite)),
        "fitzpatrick": int(rng.integers(1, 7)),
        "size_mm": float(rng.uniform(0.5, 40.0)),
        "duration_days": int(rng.integers(0, 3650)),
        **{f: bool(rng.integers(0, 2)) for f in BOOLEAN_FIELDS},
    }
    return {k: (None if rng.uniform() < missing_rate else v) for k, v in draws.items()}


def check_parity(
    net: UrgencyNet, onnx_path: Path, *, n: int = 8, seed: int = 0, atol: float = 1e-4
) -> ParityReport:
    """torch (eval) vs onnxruntime through ``OnnxModel`` (which checks the contract beside the
    file) on seeded inputs; raises ``ParityError`` beyond ``atol`` (max abs diff of probabilities)."""
    cfg = net.cfg
    images, q = parity_inputs(cfg, n=n, seed=seed)
    model = OnnxModel(Path(onnx_path))
    wrapper = ExportWrapper(net, model.contract.calibration)
    with torch.no_grad():
        args = (torch.from_numpy(images),)
        if cfg.uses_questionnaire:
            args += (torch.from_numpy(q),)
        t_diag, t_mal = (t.numpy() for t in wrapper(*args))
    out = model.run(images, q if model.contract.questionnaire is not None else None)
    o_diag, o_mal = out["diagnosis"], out["malignancy"]
    if o_diag.shape != t_diag.shape or o_mal.shape != t_mal.shape:
        raise ParityError(
            f"shapes differ: onnx {o_diag.shape}/{o_mal.shape}, torch {t_diag.shape}/{t_mal.shape}"
        )
    d_diag = float(np.max(np.abs(o_diag - t_diag)))
    d_mal = float(np.max(np.abs(o_mal - t_mal)))
    report = ParityReport(d_diag, d_mal, passed=max(d_diag, d_mal) <= atol, n=n, atol=atol)
    if not report.passed:
        raise ParityError(
            f"{Path(onnx_path).name}: onnxruntime differs from torch by {d_diag:.2e} (diagnosis), "
            f"{d_mal:.2e} (malignancy) > atol {atol:.0e}"
        )
    return report
