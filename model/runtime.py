"""ONNX Runtime inference behind a contract check: the only inference path serving uses.

One ``InferenceSession`` per model, made once; CPU, a configurable number of threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from model.contract import ContractError, ModelContract


class OnnxModel:
    def __init__(self, onnx_path: Path, contract: ModelContract | None = None, *, threads: int = 1):
        onnx_path = Path(onnx_path)
        self.path = onnx_path
        self.contract = contract or ModelContract.load(onnx_path.with_suffix(".json"))
        self.contract.check_code()
        self.contract.check_file(onnx_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._check_graph()

    def _check_graph(self) -> None:
        c = self.contract
        expected_inputs = {c.image.name} | ({c.questionnaire.name} if c.questionnaire else set())
        inputs = {i.name: i for i in self.session.get_inputs()}
        if set(inputs) != expected_inputs:
            raise ContractError(
                f"{self.path.name}: inputs {sorted(inputs)}, contract says {sorted(expected_inputs)}"
            )
        shape = inputs[c.image.name].shape
        if list(shape[1:]) != [3, c.image.size, c.image.size]:
            raise ContractError(
                f"{self.path.name}: image input shape {shape}, contract says size {c.image.size}"
            )
        if c.questionnaire is not None:
            width = inputs[c.questionnaire.name].shape[-1]
            if width != len(c.questionnaire.features):
                raise ContractError(
                    f"{self.path.name}: questionnaire width {width}, contract lists "
                    f"{len(c.questionnaire.features)} features"
                )
        outputs = {o.name for o in self.session.get_outputs()}
        missing = {o.name for o in c.outputs.values()} - outputs
        if missing:
            raise ContractError(
                f"{self.path.name}: outputs {sorted(missing)} named in the contract are missing"
            )

    def run(self, images: np.ndarray, questionnaire: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """images: Nx3xSxS float32; questionnaire: NxF float32 -> {output role: array}."""
        feeds = {self.contract.image.name: images.astype(np.float32, copy=False)}
        if self.contract.questionnaire is not None:
            if questionnaire is None:
                raise ValueError("this model needs the questionnaire features")
            feeds[self.contract.questionnaire.name] = questionnaire.astype(np.float32, copy=False)
        roles = list(self.contract.outputs)
        values = self.session.run([self.contract.outputs[r].name for r in roles], feeds)
        return dict(zip(roles, values, strict=True))

    def self_check(self) -> None:
        """One inference on a blank input of the contract's shape; raises when the session cannot answer
        or answers with a value that is not finite."""
        c = self.contract
        images = np.zeros((1, 3, c.image.size, c.image.size), np.float32)
        features = np.zeros((1, len(c.questionnaire.features)), np.float32) if c.questionnaire else None
        for role, value in self.run(images, features).items():
            if not np.all(np.isfinite(value)):
                raise ContractError(f"{self.path.name}: output {role!r} is not finite on a blank input")
