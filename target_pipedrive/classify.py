"""The rules that turn engagement into Pipedrive objects."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .engagement import Counterpart
from .settings import DEFAULTS


class Outcome(StrEnum):
    NOTHING = "nothing"
    LEAD = "lead"
    DEAL = "deal"


@dataclass(frozen=True)
class Thresholds:
    """The rules' numbers; their defaults are those of the settings they come from."""

    deal_messages: int = DEFAULTS["deal_min_messages"]
    deal_replies: int = DEFAULTS["deal_min_replies"]
    deal_meetings: int = DEFAULTS["deal_min_meetings"]
    lead_messages: int = DEFAULTS["lead_min_messages"]
    # A Person who was already in Pipedrive before we saw them (the sales team's own contact)
    # gets a Deal only at this many messages, and only without an open Deal.
    existing_person_deal_messages: int = DEFAULTS["existing_person_deal_messages"]


def classify(
    person: Counterpart, thresholds: Thresholds, existing_person: bool, has_open_deal: bool
) -> Outcome:
    if existing_person:
        if has_open_deal:
            return Outcome.NOTHING
        if person.messages >= thresholds.existing_person_deal_messages:
            return Outcome.DEAL
        return Outcome.NOTHING
    if (
        person.messages >= thresholds.deal_messages
        or person.replies >= thresholds.deal_replies
        or person.meetings >= thresholds.deal_meetings
    ):
        return Outcome.DEAL
    if person.messages >= thresholds.lead_messages:
        return Outcome.LEAD
    return Outcome.NOTHING
