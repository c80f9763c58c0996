"""A write that Pipedrive refuses (a 4xx) says the record is wrong, not the run: the message that
needs it is rejected (recorded in the ledger with `skip_rejected`, else the run stops with one
line naming it). Every other error still stops the run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipedrive_client import ApiError, PipedriveError, WriteOutcomeUnknown

# Answers that refuse the record itself (bad or stale values), not the run (401, 403, 429, 5xx).
REFUSED = frozenset({400, 404, 409, 410, 413, 422})


class RejectedMessage(PipedriveError):
    """Pipedrive refused a write that a message needs (on_invalid_record: fail)."""

    def __init__(self, message_id: str, error: str) -> None:
        super().__init__(
            f"message {message_id!r} was refused by Pipedrive: {error} Set on_invalid_record: "
            "skip to record such a message as rejected in the ledger and go on."
        )
        self.message_id = message_id


@dataclass(frozen=True)
class Refused:
    """A counterpart whose organization, person, lead or deal Pipedrive refused to write."""

    error: str


def is_refusal(error: ApiError) -> bool:
    """Pipedrive refused the record (nothing was made); an unknown outcome is no refusal."""
    return error.status in REFUSED and not isinstance(error, WriteOutcomeUnknown)


def unless_refused(write: Callable[[], Any]) -> Any:
    """The result of `write`, or Refused when Pipedrive refuses the record (a 4xx)."""
    try:
        return write()
    except ApiError as error:
        if not is_refusal(error):
            raise
        return Refused(str(error))
