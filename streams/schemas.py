"""The JSON Schemas under configs/schemas/, generated from the records and checked against them.

Run ``python -m streams.schemas`` after changing a record; a test fails while they differ.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from streams.records import json_schemas
from streams.settings import get_settings


def schema_path(config_dir: Path, name: str) -> Path:
    """Where the schema of one record lives."""
    return config_dir / "schemas" / f"{name}.schema.json"


def render(name: str, schema: dict[str, Any]) -> str:
    """Stable text of one schema, with its id and dialect."""
    doc = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://geomon.example/schemas/{name}.schema.json",
        **schema,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schemas(config_dir: Path) -> list[Path]:
    """Regenerate every schema file."""
    paths = []
    for name, schema in json_schemas().items():
        path = schema_path(config_dir, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(name, schema), encoding="utf-8")
        paths.append(path)
    return paths


@lru_cache(maxsize=8)
def validator(config_dir: Path, name: str) -> Draft202012Validator:
    """A validator for a published schema (what subscribers validate against)."""
    schema = json.loads(schema_path(config_dir, name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


if __name__ == "__main__":
    for p in write_schemas(get_settings().config_dir):
        print(p)  # noqa: T201
