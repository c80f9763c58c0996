"""target-pipedrive: email engagement written back to Pipedrive."""

from __future__ import annotations

import shutil
import sys
import tempfile
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink

from pipedrive_client import ClientConfig, PipedriveClient, PipedriveError

from .classify import Thresholds
from .engagement import AUTOMATED_LOCAL_PARTS, OwnSide
from .ledger import Ledger
from .plan import Plan
from .records import InvalidRecord, parse_event, parse_message
from .writer import Writer, WriterSettings

DEFAULT_LEDGER = ".meltano/target-pipedrive/ledger.db"


def _free_mail() -> frozenset[str]:
    text = resources.files(__package__).joinpath("freemail.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


SETTINGS = th.PropertiesList(
    th.Property("api_token", th.StringType, secret=True, description="Pipedrive API token."),
    th.Property("company_domain", th.StringType, description="The part before .pipedrive.com."),
    th.Property("api_url", th.StringType, description="Base URL override (the sandbox)."),
    th.Property("plan", th.StringType, description="Pipedrive plan, for the burst limit."),
    th.Property("max_requests_per_2s", th.IntegerType),
    th.Property(
        "budget_store",
        th.StringType,
        description="Share one rate budget with the tap: sqlite:///file.db, redis://...",
    ),
    th.Property(
        "own_emails",
        th.ArrayType(th.StringType),
        default=[],
        description="Our own addresses: messages from them are outbound.",
    ),
    th.Property(
        "own_domains",
        th.ArrayType(th.StringType),
        default=[],
        description="Our own domains: every address there is ours.",
    ),
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
        description="Name of the stream that carries calendar events.",
    ),
    th.Property(
        "pipeline_name",
        th.StringType,
        description="Pipeline for new deals (default: the first with the stage).",
    ),
    th.Property("stage_name", th.StringType, default="Initial Contact"),
    th.Property(
        "deal_title",
        th.StringType,
        default="{organization} - email",
        description="Template: {organization}, {person}, {email}, {domain}.",
    ),
    th.Property("lead_title", th.StringType, default="{organization} - email"),
    th.Property("deal_min_messages", th.IntegerType, default=5),
    th.Property("deal_min_replies", th.IntegerType, default=1),
    th.Property("deal_min_meetings", th.IntegerType, default=1),
    th.Property("lead_min_messages", th.IntegerType, default=1),
    th.Property("existing_person_deal_messages", th.IntegerType, default=10),
    th.Property(
        "free_mail_domains",
        th.ArrayType(th.StringType),
        default=[],
        description="Added to the shipped list: these domains make no Organization.",
    ),
    th.Property(
        "ignore_patterns",
        th.ArrayType(th.StringType),
        default=list(AUTOMATED_LOCAL_PARTS),
        description="Sender local parts that mark automated mail (ignored).",
    ),
    th.Property("ignore_emails", th.ArrayType(th.StringType), default=[]),
    th.Property("field_thread_count", th.StringType, default="Email thread count"),
    th.Property("field_last_contact", th.StringType, default="Last email contact"),
    th.Property("field_avg_response_hours", th.StringType, default="Avg email response hours"),
    th.Property(
        "ledger",
        th.StringType,
        default=DEFAULT_LEDGER,
        description="SQLite file path, or a postgresql:// URL for several workers.",
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        description="Decide everything, write nothing, print the plan as JSON lines.",
    ),
    th.Property(
        "on_invalid_record", th.StringType, default="fail", allowed_values=["fail", "skip"]
    ),
).to_dict()


class TargetPipedrive(Target):
    name = "target-pipedrive"
    config_jsonschema = SETTINGS
    # One writer and one ledger connection: drain the sinks one after another.
    max_parallelism = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skipped: list[str] = []
        self.writer.start()

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
    def plan(self) -> Plan | None:
        return Plan() if self.config.get("dry_run") else None

    @cached_property
    def ledger(self) -> Ledger:
        location = self.config.get("ledger", DEFAULT_LEDGER)
        if self.plan:
            # A dry run reads what earlier runs did but writes to a throwaway copy.
            scratch = Path(tempfile.mkdtemp()) / "ledger.db"
            if not location.startswith("postgres") and Path(location).exists():
                shutil.copy(location, scratch)
            location = str(scratch)
        return Ledger(location)

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
        )
        return Writer(self.client, self.ledger, settings, self.plan)

    def invalid(self, error: InvalidRecord) -> None:
        if self.config.get("on_invalid_record", "fail") == "skip":
            self.logger.warning("Skipping invalid %s", error)
            self.skipped.append(str(error))
            return
        raise error

    def _process_endofpipe(self) -> None:
        super()._process_endofpipe()
        if self.skipped:
            self.logger.warning(
                "%d invalid records were skipped: %s",
                len(self.skipped),
                "; ".join(self.skipped[:20]),
            )
        self.logger.info(
            "Created: %s", ", ".join(f"{k} {v}" for k, v in self.writer.created.items())
        )
        self.logger.info(self.client.stats.summary())
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
        context.setdefault("records", []).append(parsed)

    def get_validator(self) -> None:
        """The contract parser validates instead, naming the record and the field."""
        return


class MessagesSink(_EmailSink):
    def parse(self, record: dict) -> Any:
        return parse_message(record)

    def process_batch(self, context: dict) -> None:
        self.pipedrive.writer.write_messages(context.get("records", []))


class EventsSink(_EmailSink):
    def parse(self, record: dict) -> Any:
        return parse_event(record)

    def process_batch(self, context: dict) -> None:
        self.pipedrive.writer.write_events(context.get("records", []))


def main() -> None:
    """Console entry point: configuration, input and API failures end in one readable line."""
    try:
        exit_code = TargetPipedrive.cli.main(standalone_mode=False)
    except (PipedriveError, InvalidRecord) as exc:
        print(f"target-pipedrive: {exc}", file=sys.stderr)
        sys.exit(1)
    if isinstance(exit_code, int) and exit_code:
        sys.exit(exit_code)


if __name__ == "__main__":
    main()
