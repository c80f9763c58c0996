"""target-pipedrive: email engagement written back to Pipedrive."""

from __future__ import annotations

import contextlib
import logging
import sys
from functools import cached_property
from importlib import resources
from typing import Any

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.sinks import BatchSink

from pipedrive_client import (
    ClientConfig,
    DailyBudgetExhausted,
    PipedriveClient,
    PipedriveError,
)
from pipedrive_client.settings_schema import with_client_settings

from .classify import Thresholds
from .dry_run import DryRun
from .engagement import AUTOMATED_LOCAL_PARTS, OwnSide
from .ledger import Ledger
from .reader import QuietSingerReader
from .records import InvalidRecord, parse_event, parse_message
from .writer import Writer, WriterSettings

DEFAULT_LEDGER = ".meltano/target-pipedrive/ledger.db"


def _free_mail() -> frozenset[str]:
    text = resources.files(__package__).joinpath("freemail.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


SETTINGS = with_client_settings(
    th.PropertiesList(
        # -- which side is ours --
        th.Property(
            "own_emails",
            th.ArrayType(th.StringType),
            default=[],
            description="Our addresses: a message from one is outbound, its recipients are the "
            "counterparts.",
        ),
        th.Property(
            "own_domains",
            th.ArrayType(th.StringType),
            default=[],
            description="Our domains: every address there is ours (colleagues are no "
            "counterparts).",
        ),
        # -- input --
        th.Property(
            "messages_stream",
            th.StringType,
            default="messages",
            description="Name of the stream that carries email messages.",
        ),
        th.Property(
            "events_stream",
            th.StringType,
            default="events",
            description="Name of the stream that carries calendar events (the meeting signal).",
        ),
        th.Property(
            "on_invalid_record",
            th.StringType,
            default="fail",
            allowed_values=["fail", "skip"],
            description="fail: stop at a malformed record or a message whose write Pipedrive "
            "refuses (a 4xx), naming it; skip: go on, record refused messages as rejected in the "
            "ledger, and report the skipped and rejected records at the end.",
        ),
        # -- rules --
        th.Property(
            "deal_min_messages",
            th.IntegerType,
            default=5,
            description="Messages that make a counterpart a Person with a Deal.",
        ),
        th.Property(
            "deal_min_replies",
            th.IntegerType,
            default=1,
            description="Replies to our messages that make a Deal.",
        ),
        th.Property(
            "deal_min_meetings",
            th.IntegerType,
            default=1,
            description="Meetings that make a Deal.",
        ),
        th.Property(
            "lead_min_messages",
            th.IntegerType,
            default=1,
            description="Messages that make a Lead (below the deal thresholds).",
        ),
        th.Property(
            "existing_person_deal_messages",
            th.IntegerType,
            default=10,
            description="Messages that give a Person who was already in Pipedrive a Deal, when "
            "they have no open Deal.",
        ),
        th.Property(
            "free_mail_domains",
            th.ArrayType(th.StringType),
            default=[],
            description="Added to the shipped list (gmail.com, outlook.com...): addresses there "
            "make no Organization.",
        ),
        th.Property(
            "ignore_patterns",
            th.ArrayType(th.StringType),
            default=list(AUTOMATED_LOCAL_PARTS),
            description="Parts of the local part (before @) that mark automated senders, which are "
            "ignored. Replaces the default list.",
        ),
        th.Property(
            "ignore_emails",
            th.ArrayType(th.StringType),
            default=[],
            description="Addresses that are never counterparts.",
        ),
        # -- what is written --
        th.Property(
            "pipeline_name",
            th.StringType,
            description="Pipeline of new Deals (default: the first pipeline with stage_name).",
        ),
        th.Property(
            "stage_name",
            th.StringType,
            default="Initial Contact",
            description="Stage of new Deals, looked up by name at start.",
        ),
        th.Property(
            "deal_title",
            th.StringType,
            default="{organization} - email",
            description="Title of new Deals: {organization} (the domain, or the person on free "
            "mail), {person}, {email}, {domain}.",
        ),
        th.Property(
            "lead_title",
            th.StringType,
            default="{organization} - email",
            description="Title of new Leads, with the same placeholders.",
        ),
        th.Property(
            "field_thread_count",
            th.StringType,
            default="Email thread count",
            description="Name of the custom person field for the number of threads.",
        ),
        th.Property(
            "field_last_contact",
            th.StringType,
            default="Last email contact",
            description="Name of the custom person field for the date of the last message.",
        ),
        th.Property(
            "field_avg_response_hours",
            th.StringType,
            default="Avg email response hours",
            description="Name of the custom person field for their average response time.",
        ),
        # -- safety --
        th.Property(
            "ledger",
            th.StringType,
            default=DEFAULT_LEDGER,
            description="Where processed messages and the objects they made are kept: a SQLite "
            "file path (relative to the Meltano project), or a postgresql:// URL: recommended for "
            "scheduled runs, whose containers do not keep files.",
        ),
        th.Property(
            "dry_run",
            th.BooleanType,
            default=False,
            description="Decide everything, write nothing, print the plan: one JSON line per "
            "intended operation. Emits no STATE, so no bookmark moves.",
        ),
        th.Property(
            "dry_run_file",
            th.StringType,
            description="File for the dry-run plan (default: standard error).",
        ),
    ).to_dict()
)


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
        if stream_name == self.config.get("events_stream", "events"):
            return EventsSink
        if stream_name == self.config.get("messages_stream", "messages"):
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
        if not self.config.get("dry_run"):
            return None
        path = self.config.get("dry_run_file")
        return DryRun(self._exit_stack.enter_context(open(path, "w"))) if path else DryRun()

    @cached_property
    def ledger(self) -> Ledger:
        # A dry run reads what earlier runs recorded but keeps none of its own decisions.
        return Ledger(self.config.get("ledger") or DEFAULT_LEDGER, scratch=bool(self.dry_run))

    @cached_property
    def writer(self) -> Writer:
        c = self.config
        own = OwnSide(
            emails=frozenset(e.lower() for e in c.get("own_emails", [])),
            domains=frozenset(d.lower() for d in c.get("own_domains", [])),
            ignore_patterns=tuple(c.get("ignore_patterns", AUTOMATED_LOCAL_PARTS)),
            ignore_emails=frozenset(e.lower() for e in c.get("ignore_emails", [])),
        )
        if not own.emails and not own.domains:
            raise PipedriveError(
                "own_emails or own_domains is missing: the target must know "
                "which side of each message is ours."
            )
        settings = WriterSettings(
            own=own,
            pipeline_name=c.get("pipeline_name"),
            stage_name=c.get("stage_name", "Initial Contact"),
            deal_title=c.get("deal_title", "{organization} - email"),
            lead_title=c.get("lead_title", "{organization} - email"),
            thresholds=Thresholds(
                deal_messages=c.get("deal_min_messages", 5),
                deal_replies=c.get("deal_min_replies", 1),
                deal_meetings=c.get("deal_min_meetings", 1),
                lead_messages=c.get("lead_min_messages", 1),
                existing_person_deal_messages=c.get("existing_person_deal_messages", 10),
            ),
            free_mail_domains=_free_mail() | {d.lower() for d in c.get("free_mail_domains", [])},
            field_names={
                "thread_count": c.get("field_thread_count", "Email thread count"),
                "last_contact": c.get("field_last_contact", "Last email contact"),
                "avg_response_hours": c.get("field_avg_response_hours", "Avg email response hours"),
            },
            skip_rejected=c.get("on_invalid_record", "fail") == "skip",
        )
        return Writer(self.client, self.ledger, settings, self.dry_run)

    def invalid(self, error: InvalidRecord) -> None:
        if self.config.get("on_invalid_record", "fail") == "skip":
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
