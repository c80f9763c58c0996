"""The target's settings: declared once, for --about, Meltano and validation. Their defaults
live here and nowhere else: the SDK fills them into the config, so the code reads every value
from the config (the rules' dataclass takes its defaults from here too)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from singer_sdk import typing as th

from pipedrive_client.settings_schema import with_client_settings

from .engagement import AUTOMATED_LOCAL_PARTS

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
            default=".meltano/target-pipedrive/ledger.db",
            description="Where processed messages and the objects they made are kept: a SQLite "
            "file path (relative to the Meltano project), or a postgresql:// URL: recommended for "
            "scheduled runs, whose containers do not keep files.",
        ),
        th.Property(
            "dry_run",
            th.BooleanType,
            default=False,
            description="Decide everything, write nothing, print one JSON line per intended "
            "operation. Emits no STATE, so no bookmark moves.",
        ),
        th.Property(
            "dry_run_file",
            th.StringType,
            description="File for the dry run's intended operations (default: standard error).",
        ),
    ).to_dict()
)

DEFAULTS: dict[str, Any] = {
    name: prop["default"] for name, prop in SETTINGS["properties"].items() if "default" in prop
}


def shipped_free_mail() -> frozenset[str]:
    """The free-mail domains shipped with the target, to which free_mail_domains adds."""
    text = resources.files(__package__).joinpath("freemail.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())
