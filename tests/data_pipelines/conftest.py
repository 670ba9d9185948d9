"""Fixtures of the data-layer tests: a fake data folder and its built manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_sources import make_fake_data

from data_pipelines.build import build_manifest
from data_pipelines.manifest import read_manifest


@pytest.fixture
def fake_data(tmp_path: Path) -> Path:
    return make_fake_data(tmp_path / "data")


@pytest.fixture
def built(fake_data: Path, tmp_path: Path):
    result = build_manifest(fake_data, tmp_path / "out" / "manifest.csv", k_folds=3, progress=False)
    return result, read_manifest(result.path)
