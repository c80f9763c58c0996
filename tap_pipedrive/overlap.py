"""Whether reading in parallel can pay off: only where answers take a network's time.

Reading the next streams ahead (read_ahead.py) and cutting a list into time windows
(windows.py) overlap the waits for answers. Where even the fastest answer of the run came back
within `NETWORK_SECONDS` (a server beside the tap, answering from memory), there is no network
wait to overlap: the run waits for a CPU, the tap's own or the server's, and parallel readers
only add their threads, their spooling and their memory (1M records from the sandbox with no
latency, one run after the other: 149 s and 122 MB with them, 98 s and 74 MB without). Any
real network opens them: Pipedrive's answers take 100 ms and more. A sync waits briefly for the
first answer (`FIRST_ANSWER_SECONDS`); none by then is a network's: open.
"""

from __future__ import annotations

import os

from pipedrive_client import PipedriveClient

# Above a warm local answer (1 to 2 ms) and a fresh local server's first answers (11 to 14 ms
# here), below any network Pipedrive is reached over.
NETWORK_SECONDS = 0.03
# How long a sync waits for the run's first answer before streams read ahead, so that the choice
# is made knowing: a wait of 20 ms and a threshold of 10 ms read ahead for nothing on a busy
# machine. Over a network the wait ends with that answer, or after this long.
FIRST_ANSWER_SECONDS = 0.1
# Set to 1, parallel reading opens whatever the network, and windows are cut whenever one has
# records left to read: to see them work on a fast network (the tests' kill, churn and tie runs).
EAGER_ENV = "TAP_PIPEDRIVE_EAGER_OVERLAP"


def eager() -> bool:
    return os.environ.get(EAGER_ENV) == "1"


def pays_off(client: PipedriveClient) -> bool:
    """Whether the network's round trips are worth overlapping for this client."""
    return eager() or client.fastest_round_trip() >= NETWORK_SECONDS
