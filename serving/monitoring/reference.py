"""What the service's cases are compared with: the training data's profile
(``model/artifacts/reference_profile.json``, written from the real manifest by ``dermatriage data
profile``) and the false-retake rate the bundled quality model was tuned to. Read once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from model import input_profile
from model.contract import ContractError, ModelContract
from model.loading import ARTIFACTS

QUALITY_CONTRACT = ARTIFACTS / "quality.json"


@dataclass(frozen=True)
class Reference:
    profile: dict[str, Any]
    false_retake: float | None
    false_retake_source: str


def false_retake_of(contract_path: Path) -> tuple[float | None, str]:
    """(the per-photo false-retake target the quality model's retake threshold was chosen for, where it
    comes from); (None, why) when the contract does not say."""
    try:
        contract = ModelContract.load(contract_path)
    except (OSError, ValueError, KeyError, ContractError) as exc:
        return None, f"no quality contract at {contract_path.name}: {type(exc).__name__}"
    target = contract.provenance.get("config", {}).get("target_false_retake")
    if not isinstance(target, int | float):
        return None, f"{contract.version}: its contract records no target_false_retake"
    return float(target), (
        f"expected: the false-retake rate {float(target):.0%} per photo that quality model "
        f"{contract.version}'s retake threshold was chosen for on untouched training photos"
    )


@lru_cache(maxsize=4)
def load(
    profile_path: Path = input_profile.REFERENCE_PATH, contract_path: Path = QUALITY_CONTRACT
) -> Reference:
    false_retake, source = false_retake_of(contract_path)
    return Reference(input_profile.load_reference(profile_path), false_retake, source)
