"""Each setting is declared once, in its plugin's settings schema; meltano.yml and the docs'
settings tables are checked against it (names, kinds, secrets, options), so they can not drift."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _tables_script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "settings_tables", ROOT / "scripts/settings_tables.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _meltano_settings(plugin: str) -> dict[str, dict[str, Any]]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugins = project["plugins"]["extractors"] + project["plugins"]["loaders"]
    (entry,) = [p for p in plugins if p["name"] == plugin]
    return {s["name"]: s for s in entry.get("settings", [])}


def _meltano_view(prop: dict[str, Any]) -> dict[str, Any]:
    """How Meltano should declare a schema property."""
    types = [t for t in prop.get("type", []) if t != "null"]
    if prop.get("secret"):
        return {"kind": "string", "sensitive": True}
    if "enum" in prop:
        return {"kind": "options", "sensitive": False, "options": sorted(prop["enum"])}
    kind = types[0] if len(types) == 1 else "string"  # several types: Meltano passes text
    return {"kind": {"number": "decimal"}.get(kind, kind), "sensitive": False}


def _about(prop: dict[str, Any]) -> str:
    return " ".join(str(prop.get("description") or "").split())


def _declared(setting: dict[str, Any]) -> dict[str, Any]:
    view = {"kind": setting.get("kind", "string"), "sensitive": bool(setting.get("sensitive"))}
    if "options" in setting:
        view["options"] = sorted(o["value"] for o in setting["options"])
    return view


@pytest.mark.parametrize("plugin", ["tap-pipedrive", "target-pipedrive"])
def test_meltano_declares_exactly_the_schema_settings(plugin) -> None:
    schema = _tables_script().plugin_settings(plugin)
    declared = _meltano_settings(plugin)
    assert sorted(declared) == sorted(schema), "meltano.yml and the settings schema differ"
    for name, prop in schema.items():
        assert _declared(declared[name]) == _meltano_view(prop), name
        assert declared[name].get("description", "") == _about(prop), f"{name}: description"


@pytest.mark.parametrize("plugin", ["tap-pipedrive", "target-pipedrive"])
def test_meltano_uses_no_deprecated_kind(plugin) -> None:
    assert all(s.get("kind") != "password" for s in _meltano_settings(plugin).values())


def test_the_docs_settings_tables_are_the_schemas() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/settings_tables.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
