"""Where the raw data is: ``$DERMATRIAGE_DATA_DIR``, default ``<repo>/../shared/data`` (read-only;
never written)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "DERMATRIAGE_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data").resolve()
