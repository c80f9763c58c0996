"""The settings tables of docs/tap.md and docs/target.md, and the plugins' `settings:` lists in
meltano.yml, made from the plugins' settings schemas (the one place each setting is declared), so
neither can drift from `--about`.

  python scripts/settings_tables.py           rewrite the tables and meltano.yml's lists
  python scripts/settings_tables.py --check   exit 1 when one differs from the schema
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"tap-pipedrive": ROOT / "docs/tap.md", "target-pipedrive": ROOT / "docs/target.md"}
MELTANO = ROOT / "meltano.yml"
# Where each plugin's settings list ends in meltano.yml.
LIST_ENDS = {"tap-pipedrive": "    select:\n", "target-pipedrive": "  - name: target-postgres\n"}


def plugin_settings(plugin: str) -> dict[str, dict[str, Any]]:
    """The plugin's own settings (the SDK's built-in ones, such as stream_maps, are its own)."""
    from singer_sdk.helpers import capabilities

    builtin = {
        name
        for value in vars(capabilities).values()
        if isinstance(value, dict) and isinstance(value.get("properties"), dict)
        for name in value["properties"]
    }
    if plugin == "tap-pipedrive":
        from tap_pipedrive.settings import SETTINGS
    else:
        from target_pipedrive.settings import SETTINGS
    own = {k: v for k, v in SETTINGS["properties"].items() if k not in builtin}
    if plugin == "tap-pipedrive":
        # The SDK switches the tap documents as its own: the reference job sets the first, and
        # the second turns on BATCH messages (docs/tap.md, "Loading speed").
        own["emit_activate_version_messages"] = SETTINGS["properties"][
            "emit_activate_version_messages"
        ]
        own["batch_config"] = capabilities.BATCH_CONFIG["properties"]["batch_config"]
    return own


def render(plugin: str) -> str:
    rows = ["| Setting | Default | What it does |", "| --- | --- | --- |"]
    for name, prop in plugin_settings(plugin).items():
        setting = f"`{name}`" + (" (secret)" if prop.get("secret") else "")
        default = (
            f"`{json.dumps(prop['default'])}`" if prop.get("default") not in (None, []) else ""
        )
        about = " ".join(str(prop.get("description") or "").split()).replace("|", "\\|")
        rows.append(f"| {setting} | {default} | {about} |")
    return "\n".join(rows)


def meltano_settings(plugin: str) -> str:
    """The plugin's `settings:` list as meltano.yml declares it."""
    import yaml

    declared = []
    for name, prop in plugin_settings(plugin).items():
        types = [t for t in prop.get("type", []) if t != "null"]
        setting: dict[str, Any] = {"name": name}
        if prop.get("secret"):
            setting.update(kind="string", sensitive=True)
        elif "enum" in prop:
            setting.update(kind="options", options=[{"label": v, "value": v} for v in prop["enum"]])
        else:
            kind = types[0] if len(types) == 1 else "string"  # several types: Meltano passes text
            if kind != "string":
                setting["kind"] = {"number": "decimal"}.get(kind, kind)
        if prop.get("description"):
            setting["description"] = " ".join(prop["description"].split())
        declared.append(setting)
    text = yaml.safe_dump(declared, sort_keys=False, width=96, default_flow_style=False)
    return "".join(f"    {line}\n" if line else "\n" for line in text.rstrip("\n").split("\n"))


def with_meltano_settings(project: str, plugin: str) -> str:
    start = project.index("    settings:\n", project.index(f"- name: {plugin}\n"))
    start += len("    settings:\n")
    end = project.index(LIST_ENDS[plugin], start)
    return project[:start] + meltano_settings(plugin) + project[end:]


def _markers(plugin: str) -> tuple[str, str]:
    return f"<!-- settings table: {plugin} (scripts/settings_tables.py) -->", "<!-- end -->"


def with_table(page: str, plugin: str) -> str:
    start, end = _markers(plugin)
    before, found, rest = page.partition(start)
    if not found:
        raise SystemExit(f"{plugin}: no '{start}' marker in its page")
    _, _, after = rest.partition(end)
    return f"{before}{start}\n{render(plugin)}\n{end}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = []
    for plugin, path in PAGES.items():
        page = path.read_text()
        wanted = with_table(page, plugin)
        if wanted != page:
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(wanted)
    project = MELTANO.read_text()
    wanted = project
    for plugin in PAGES:
        wanted = with_meltano_settings(wanted, plugin)
    if wanted != project:
        stale.append("meltano.yml")
        if not args.check:
            MELTANO.write_text(wanted)
    if args.check and stale:
        print(
            f"settings tables differ from the schemas: {', '.join(stale)}; run "
            "python scripts/settings_tables.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
