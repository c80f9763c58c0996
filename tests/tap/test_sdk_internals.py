"""The Singer SDK internals the tap leans on (tap_pipedrive/sdk_internals.py) are still there
and still mean what the tap takes them to mean. An SDK upgrade that changes one fails here,
saying which and why it matters, rather than somewhere in a sync."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest
from singer_sdk import Stream, metrics
from singer_sdk.streams._state import StreamStateManager

from tap_pipedrive import sdk_internals

from .runner import config_for


def _params(function) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize(
    ("owner", "name", "params", "why"),
    [
        (
            Stream,
            "_write_starting_replication_value",
            ["self", "context"],
            "reading ahead writes a partition's starting bookmark before the SDK syncs it",
        ),
        (Stream, "_sync_children", ["self", "child_context"], "deal products per 100 deals"),
        (metrics.Counter, "_pop", ["self"], "per-partition METRIC counts"),
        (
            Stream,
            "_write_activate_version_message",
            ["self", "full_table_version"],
            "ACTIVATE_VERSION after a stream was read whole",
        ),
        (
            Stream,
            "_generate_record_messages",
            ["self", "record"],
            "RECORD messages with the schema's type conformance compiled once",
        ),
    ],
)
def test_private_methods_the_tap_calls_exist(owner, name, params, why) -> None:
    method = getattr(owner, name, None)
    assert method is not None, f"SDK upgrade removed {owner.__name__}.{name}: {why}"
    assert _params(method) == params, f"SDK upgrade changed {owner.__name__}.{name}: {why}"


def test_the_sdk_sync_all_is_still_the_steps_the_tap_repeats() -> None:
    # sdk_internals.sync_all repeats Tap.sync_all's steps with its own order of the streams;
    # an SDK upgrade that adds or renames a step must be looked at there.
    from singer_sdk import Tap

    source = inspect.getsource(Tap.sync_all)
    steps = [
        "self._reset_state_progress_markers()",
        "self._set_compatible_replication_methods()",
        "self._state_writer.write_state(self.state)",
        "stream.selected and not stream.has_selected_descendents",
        "stream.parent_stream_type",
        "stream.sync()",
        "stream.finalize_state_progress_markers()",
        "stream.log_sync_costs()",
    ]
    for step in steps:
        assert step in source, f"SDK upgrade changed Tap.sync_all ({step}): see sync_all"
    tree = ast.parse(textwrap.dedent(source))
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert called == {
        "_reset_state_progress_markers",
        "_set_compatible_replication_methods",
        "write_state",
        "values",
        "info",
        "debug",
        "sync",
        "finalize_state_progress_markers",
        "log_sync_costs",
    }, f"SDK upgrade changed Tap.sync_all's steps: {sorted(called)}"


def test_the_state_manager_reads_its_sort_flag_where_the_tap_turns_it_off(sandbox) -> None:
    from tap_pipedrive.tap import TapPipedrive

    stream = TapPipedrive(config=config_for(sandbox)).streams["persons"]
    manager = stream.state_manager
    assert isinstance(manager, StreamStateManager)
    assert manager._is_sorted is True, "SDK upgrade: the sorted flag moved (order guard)"
    sdk_internals.stop_trusting_sort(stream)
    record = {"update_time": "2026-01-02T00:00:00Z"}
    manager.increment_state(record, context=None, replication_key="update_time")
    older = {"update_time": "2026-01-01T00:00:00Z"}
    # Unsorted now: an older record is taken into the progress markers, not raised on.
    manager.increment_state(older, context=None, replication_key="update_time")
    assert "progress_markers" in stream.get_context_state(None)


def test_records_carry_the_version_the_tap_sets(sandbox) -> None:
    from tap_pipedrive.tap import TapPipedrive

    stream = TapPipedrive(config=config_for(sandbox)).streams["pipelines"]
    assert stream._stream_version is None, "SDK upgrade: the stream version moved"
    sdk_internals.set_table_version(stream, 1234)
    messages = list(stream._generate_record_messages({"id": 1, "name": "Sales"}))
    assert [m.version for m in messages] == [1234], "SDK upgrade: records no longer carry it"


def test_the_sdk_start_line_the_tap_filters_is_the_one_the_sdk_logs() -> None:
    source = inspect.getsource(StreamStateManager.write_starting_replication_value)
    assert repr(sdk_internals.SDK_START_MESSAGE)[1:-1] in source, (
        "SDK upgrade changed its 'Starting incremental sync' line: the filter no longer drops "
        "it, so each partition's start is logged twice"
    )


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("is_uniform_list", ["property_schema"]),
        ("is_object_type", ["property_schema"]),
        ("_is_exclusive_boolean_type", ["property_schema"]),
        ("_warn_unmapped_properties", ["stream_name", "property_names", "logger"]),
        ("_conform_record_data_types", ["input_object", "schema", "level", "parent"]),
        ("_conform_primitive_property", ["elem", "property_schema"]),
    ],
)
def test_the_conformance_the_tap_compiles_is_still_the_sdks(name, params) -> None:
    """fast_conform.py asks the SDK's own schema predicates what each place of a schema is,
    and must give what `_conform_record_data_types` gives (tests/tap/test_fast_output.py)."""
    from singer_sdk.helpers import _typing

    function = getattr(_typing, name, None)
    assert function is not None, f"SDK upgrade removed _typing.{name}: recheck fast_conform.py"
    assert _params(getattr(function, "__wrapped__", function)) == params, name


def test_record_messages_take_the_steps_the_sdk_takes() -> None:
    """`record_messages` repeats `Stream._generate_record_messages` step for step: an SDK
    that adds one (or changes one) must be looked at."""
    source = inspect.getsource(Stream._generate_record_messages)
    steps = [
        "schema = self.effective_schema",
        "pop_deselected_record_properties(record, self.schema, self.mask)",
        "record = conform_record_data_types(",
        "level=self.TYPE_CONFORMANCE_LEVEL,",
        "for stream_map in self.stream_maps:",
        "mapped_record = stream_map.transform(record)",
        "version=self._stream_version,",
        "time_extracted=utc_now(),",
    ]
    for step in steps:
        assert step in source, f"SDK upgrade changed _generate_record_messages: {step}"
    assert source.count("\n") < 40, "SDK upgrade: _generate_record_messages does more now"
