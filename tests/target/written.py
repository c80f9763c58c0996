"""What the target wrote, read back from the sandbox's store."""


def persons_by_email(sb) -> dict:
    return {
        e["value"]: row
        for pid in sb.ids("persons")
        for row in [sb.store.get("persons", pid)]
        for e in row.get("emails", [])
    }


def activities_by_message(sb) -> dict[str, int]:
    """How many activities carry each message id marker."""
    counts: dict[str, int] = {}
    for activity in sb.store.tables["activities"].values():
        note = activity.get("note") or ""
        if "Email id: " in note:
            mid = note.split("Email id: ", 1)[1].split("</p>", 1)[0]
            counts[mid] = counts.get(mid, 0) + 1
    return counts


def assert_no_duplicates(sb) -> None:
    emails = [e["value"] for p in sb.store.tables["persons"].values() for e in p["emails"]]
    assert len(emails) == len(set(emails))
    names = [o["name"] for o in sb.store.tables["organizations"].values()]
    assert len(names) == len(set(names))
    owners = [
        d["person_id"]
        for d in sb.store.tables["deals"].values()
        if str(d.get("title", "")).endswith("- email")
    ]
    assert len(owners) == len(set(owners))
