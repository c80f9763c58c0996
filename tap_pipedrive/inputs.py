"""What a user hands the tap, checked before the SDK reads it: a config, state or catalog file
that is missing or not JSON, or a bookmark that is not a time, ends the run in one line naming
the file (and the stream); unknown setting names and streams are warned about, not ignored
silently."""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import pendulum

from pipedrive_client import ClientConfig, ConfigError

# The SDK's command-line options that name a JSON file.
FILE_OPTIONS = {"--config": "config", "--state": "state", "--catalog": "catalog"}


def check_command_line(argv: list[str]) -> None:
    for option, path in _file_options(argv):
        kind = FILE_OPTIONS[option]
        if kind == "config" and path == "ENV":
            continue
        document = _load(kind, Path(path))
        if kind == "state":
            check_bookmarks(document, f"state file {path}")


def check_bookmarks(state: Mapping[str, Any], source: str) -> None:
    """Every bookmark must be a time: a bad one would fail mid-run, or read from the wrong
    place without a word."""
    bookmarks = state.get("bookmarks") or {}
    if not isinstance(bookmarks, Mapping):
        raise ConfigError(f"{source}: 'bookmarks' is not an object; fix or delete the state.")
    for stream, entry in bookmarks.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{source}: the entry of stream '{stream}' is not an object.")
        for where, part in _bookmark_holders(entry):
            value = part.get("replication_key_value")
            if value is not None and not _is_time(value):
                raise ConfigError(
                    f"{source}: stream '{stream}'{where} has the bookmark {str(value)[:40]!r}, "
                    "which is not a time; correct it, or remove the stream's entry to read it "
                    "again from anchor_date."
                )


def warn_about_unknown_settings(
    config: Mapping[str, Any], schema: Mapping[str, Any], logger: logging.Logger
) -> None:
    """A misspelt setting would otherwise be ignored without a word."""
    known = set(schema.get("properties") or {}) | {f.name for f in fields(ClientConfig)}
    for name in sorted(set(config) - known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        logger.warning("Unknown setting '%s' is ignored%s.", name, hint)


def warn_about_unknown_streams(catalog: Any, streams: Mapping[str, Any], logger: Any) -> None:
    if not catalog:
        return
    for entry in catalog.streams:
        if entry.tap_stream_id not in streams and entry.metadata.root.selected:
            logger.warning(
                "The catalog selects stream '%s', which tap-pipedrive does not have; it is "
                "ignored. Streams: %s.",
                entry.tap_stream_id,
                ", ".join(sorted(streams)),
            )


def catalog_selects(catalog: Any, name: str) -> bool:
    """Whether the input catalog selects the stream, as the SDK resolves it (a stream the
    catalog leaves out is not selected)."""
    entry = catalog.get_stream(name)
    return entry is not None and entry.metadata.resolve_selection().get((), True)


def _file_options(argv: list[str]) -> Iterable[tuple[str, str]]:
    args = iter(argv)
    for arg in args:
        option, _, value = arg.partition("=")
        if option in FILE_OPTIONS:
            path = value or next(args, "")
            if path:
                yield option, path


def _load(kind: str, path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"{kind} file {path} does not exist.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{kind} file {path} is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{kind} file {path} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(f"{kind} file {path} must hold a JSON object.")
    return document


def _bookmark_holders(entry: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    yield "", entry
    for partition in entry.get("partitions") or []:
        if isinstance(partition, Mapping):
            context = partition.get("context") or {}
            where = ", ".join(f"{k}={v}" for k, v in sorted(context.items()))
            yield f" (partition {where})", partition


def _is_time(value: Any) -> bool:
    try:
        return isinstance(pendulum.parse(str(value)), pendulum.DateTime)
    except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
        return False
