"""Another email tap's shape, mapped onto the contract with a stream map (as in README.md)."""

import io
import json

from target_pipedrive.target import TargetPipedrive

from .feed import OURS, config

README_MAP = {
    "__alias__": "messages",
    "from": "[{'name': sender_name, 'email': sender}]",
    "to": "[{'name': '', 'email': r} for r in recipients]",
    "date": "sent_at",
}
GMAIL_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "sender": {"type": "string"},
        "sender_name": {"type": "string"},
        "recipients": {"type": "array", "items": {"type": "string"}},
        "sent_at": {"type": "string"},
        "subject": {"type": "string"},
    },
}


def test_the_readme_stream_map_feeds_the_target(sandbox, tmp_path) -> None:
    cfg = config(sandbox, tmp_path, stream_maps={"gmail_messages": README_MAP})
    record = {
        "id": "g1",
        "sender": "zoe@zeta.example",
        "sender_name": "Zoe",
        "recipients": [OURS],
        "sent_at": "2026-10-01T10:00:00Z",
        "subject": "Hi",
    }
    lines = [
        {
            "type": "SCHEMA",
            "stream": "gmail_messages",
            "schema": GMAIL_SCHEMA,
            "key_properties": ["id"],
        },
        {"type": "RECORD", "stream": "gmail_messages", "record": record},
    ]
    TargetPipedrive(config=cfg).listen(
        file_input=io.StringIO("\n".join(json.dumps(x) for x in lines) + "\n")
    )
    zoe = [
        p
        for p in sandbox.store.tables["persons"].values()
        if any(e["value"] == "zoe@zeta.example" for e in p["emails"])
    ]
    assert [p["name"] for p in zoe] == ["Zoe"]
    assert any(
        "Email id: g1" in (a.get("note") or "") for a in sandbox.store.tables["activities"].values()
    )
