"""The API's OpenAPI document is the committed one (``openapi.json`` beside this file), so every change
to the API is deliberate: when you change it on purpose, regenerate the file with
``.venv/bin/python tests/serving/test_openapi.py`` and review its diff with the change."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from serving.app import create_app
from serving.settings import Settings

COMMITTED = Path(__file__).with_name("openapi.json")


def current_document() -> dict:
    app = create_app(
        Settings(environment="test", urgency_model="none", quality_model="none", migrate_on_start=False)
    )
    return app.openapi()


def render(document: dict) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def test_openapi_document_is_the_committed_one() -> None:
    current = render(current_document())
    assert current == COMMITTED.read_text(encoding="utf-8"), (
        "the OpenAPI document changed; if that is deliberate, run "
        "`.venv/bin/python tests/serving/test_openapi.py` and commit tests/serving/openapi.json"
    )


if __name__ == "__main__":
    COMMITTED.write_text(render(current_document()), encoding="utf-8")
    sys.stdout.write(f"wrote {COMMITTED}\n")
