"""The committed schemas/*.json are exactly what schemas/generate.py produces from the CRDs."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from jsonschema.validators import Draft202012Validator

REPO = Path(__file__).resolve().parents[1]
CRDS = REPO.parent / "shared" / "reference" / "crds"


def _generator():
    spec = importlib.util.spec_from_file_location("schema_generator", REPO / "schemas" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not CRDS.is_dir(), reason="../shared/reference/crds is absent")
def test_regenerating_reproduces_committed_schemas(tmp_path: Path) -> None:
    written = _generator().generate(CRDS, tmp_path)
    committed = sorted(p.name for p in (REPO / "schemas").glob("*.json"))
    assert sorted(p.name for p in written) == committed
    for path in written:
        assert path.read_bytes() == (REPO / "schemas" / path.name).read_bytes(), path.name


def test_go_inline_flags_are_moved_to_the_front() -> None:
    assert _generator().fix_pattern("^(?i)(Info|Debug)?$") == "(?i)^(Info|Debug)?$"
    assert _generator().fix_pattern("^[a-z]+$") == "^[a-z]+$"


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "schemas").glob("*.json")))
def test_every_schema_pins_api_version_kind_and_strict_metadata(name: str) -> None:
    schema = json.loads((REPO / "schemas" / name).read_text())
    props = schema["properties"]
    assert props["apiVersion"]["enum"] == ["projectcalico.org/v3"]
    assert props["kind"]["enum"] == [schema["title"]]
    assert props["metadata"]["additionalProperties"] is False
    assert schema["additionalProperties"] is False
    assert name == schema["title"].lower() + ".json"
    Draft202012Validator.check_schema(schema)
