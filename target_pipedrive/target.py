"""target-pipedrive: email engagement written back to Pipedrive."""

from __future__ import annotations

import contextlib
import logging
import sys
from functools import cached_property
from typing import Any

from singer_sdk import Target
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.sinks import BatchSink

from pipedrive_client import (
    ClientConfig,
    DailyBudgetExhausted,
    PipedriveClient,
    PipedriveError,
)

from .dry_run import DryRun
from .ledger import Ledger
from .reader import QuietSingerReader
from .records import InvalidRecord, parse_event, parse_message
from .settings import SETTINGS
from .writer import Writer, WriterSettings


class TargetPipedrive(Target):
    """Email engagement written back to Pipedrive: organizations, persons, leads, deals."""

    name = "target-pipedrive"
    package_name = "pipedrive-connectors"
    config_jsonschema = SETTINGS
    message_reader_class = QuietSingerReader
    # One writer and one ledger connection: drain the sinks one after another.
    max_parallelism = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skipped: list[str] = []
        self._exit_stack = contextlib.ExitStack()
        try:
            with self.ledger.run_lock():
                self.writer.start()
        except BaseException:
            self._exit_stack.close()
            raise

    def get_sink_class(self, stream_name: str) -> type[BatchSink]:
        if stream_name == self.config["events_stream"]:
            return EventsSink
        if stream_name == self.config["messages_stream"]:
            return MessagesSink
        raise PipedriveError(
            f"stream '{stream_name}' is not an email stream: set "
            "messages_stream or events_stream, or map it with a stream map."
        )

    @cached_property
    def client(self) -> PipedriveClient:
        return PipedriveClient(ClientConfig.from_settings(self.config))

    @cached_property
    def dry_run(self) -> DryRun | None:
        if not self.config["dry_run"]:
            return None
        path = self.config.get("dry_run_file")
        return DryRun(self._exit_stack.enter_context(open(path, "w"))) if path else DryRun()

    @cached_property
    def ledger(self) -> Ledger:
        # A dry run reads what earlier runs recorded but keeps none of its own decisions.
        return Ledger(self.config["ledger"], scratch=bool(self.dry_run))

    @cached_property
    def writer(self) -> Writer:
        settings = WriterSettings.from_config(self.config)
        return Writer(self.client, self.ledger, settings, self.dry_run)

    def invalid(self, error: InvalidRecord) -> None:
        if self.config["on_invalid_record"] == "skip":
            self.logger.warning("Skipping invalid %s", error)
            self.skipped.append(str(error))
            return
        raise error

    def _write_state_message(self, state: dict) -> None:
        """A dry run writes nothing, so it emits no STATE: under Meltano the email source's
        bookmark stays where it was, and the real run reads the same messages."""
        if self.dry_run is not None:
            self.logger.info("Dry run: no STATE emitted, so no bookmark moves.")
            return
        super()._write_state_message(state)

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        if self.skipped:
            self.logger.warning(
                "%d invalid records were skipped: %s",
                len(self.skipped),
                "; ".join(self.skipped[:20]),
            )
        if self.writer.rejected:
            self.logger.warning(
                "%d messages were refused by Pipedrive and recorded as rejected in the ledger "
                "(status 'rejected' in pd_messages): %s",
                len(self.writer.rejected),
                "; ".join(self.writer.rejected[:20]),
            )
        self.logger.info(
            "Created: %s", ", ".join(f"{k} {v}" for k, v in self.writer.created.items())
        )
        self.logger.info(self.client.stats.summary())
        self._exit_stack.close()
        self.ledger.close()
        self.client.close()


class _EmailSink(BatchSink):
    max_size = 1000

    def __init__(self, target: TargetPipedrive, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.pipedrive = target

    def parse(self, record: dict) -> Any:
        raise NotImplementedError

    def process_record(self, record: dict, context: dict) -> None:
        try:
            parsed = self.parse(record)
        except InvalidRecord as error:
            self.pipedrive.invalid(error)
            return
        records = context.setdefault("records", [])
        records.append(parsed)
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("Record %d of the batch: id %s", len(records), _short(parsed.id))

    def get_validator(self) -> None:
        """The contract parser validates instead, naming the record and the field."""
        return

    def _after_process_record(self, context: dict) -> None:
        """Nothing: the SDK's line here dumps the whole batch so far, every address in it, so a
        DEBUG log grew with the square of the batch. `process_record` logs one short line."""
        return


class MessagesSink(_EmailSink):
    def parse(self, record: dict) -> Any:
        return parse_message(record)

    def process_batch(self, context: dict) -> None:
        with self.pipedrive.ledger.run_lock():
            self.pipedrive.writer.write_messages(context.get("records", []))


class EventsSink(_EmailSink):
    def parse(self, record: dict) -> Any:
        return parse_event(record)

    def process_batch(self, context: dict) -> None:
        with self.pipedrive.ledger.run_lock():
            self.pipedrive.writer.write_events(context.get("records", []))


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main() -> None:
    """Console entry point: configuration, input and API failures end in one readable line."""
    try:
        exit_code = TargetPipedrive.cli.main(standalone_mode=False)
    except DailyBudgetExhausted as exc:
        print(
            f"target-pipedrive: {exc} Every message written so far is in the ledger; the next "
            "run resumes after them.",
            file=sys.stderr,
        )
        sys.exit(1)
    except (PipedriveError, InvalidRecord) as exc:
        print(f"target-pipedrive: {exc}", file=sys.stderr)
        sys.exit(1)
    except InvalidInputLine as exc:
        line = str(exc).removeprefix("Unable to parse line as JSON: ")
        print(
            f"target-pipedrive: an input line is not Singer JSON ({line[:80]!r}). Fix the input "
            "and run again: the ledger keeps whatever was written from being written twice.",
            file=sys.stderr,
        )
        sys.exit(1)
    if isinstance(exit_code, int) and exit_code:
        sys.exit(exit_code)


if __name__ == "__main__":
    main()
