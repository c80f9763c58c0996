"""Reading one page ahead: same order, errors reach the reader, the next page is fetched while
the reader works, and a reader that stops stops the fetching."""

import threading

import pytest

from pipedrive_client import read_ahead


def test_items_come_in_order() -> None:
    assert list(read_ahead(iter(range(50)))) == list(range(50))


def test_an_error_while_fetching_reaches_the_reader_after_the_pages_before_it() -> None:
    def pages():
        yield 1
        yield 2
        raise RuntimeError("page 3 failed")

    got: list[int] = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        got.extend(read_ahead(pages()))
    assert got == [1, 2]


def test_the_next_page_is_fetched_while_the_reader_works_on_this_one() -> None:
    second_started = threading.Event()

    def pages():
        yield "first"
        second_started.set()
        yield "second"

    reader = read_ahead(pages())
    assert next(reader) == "first"
    # Without reading ahead, nothing would fetch the second page until we asked for it.
    assert second_started.wait(timeout=10)
    assert next(reader) == "second"


def test_a_reader_that_stops_early_stops_the_fetching() -> None:
    closed = threading.Event()
    fetched = []

    def pages():
        try:
            for n in range(1000):
                fetched.append(n)
                yield n
        finally:
            closed.set()

    reader = read_ahead(pages())
    assert next(reader) == 0
    reader.close()
    assert closed.wait(timeout=10)
    assert len(fetched) <= 3


def test_reading_starts_before_the_first_item_is_asked_for() -> None:
    started = threading.Event()

    def pages():
        started.set()
        yield 1

    reader = read_ahead(pages())
    assert started.wait(timeout=10)
    assert list(reader) == [1]


def test_a_reader_that_is_dropped_stops_the_fetching() -> None:
    closed = threading.Event()

    def pages():
        try:
            yield from range(1000)
        finally:
            closed.set()

    reader = read_ahead(pages(), depth=2)
    assert next(reader) == 0
    del reader
    assert closed.wait(timeout=10)


def test_a_reader_not_yet_read_spools_beyond_its_depth_and_gives_all_back_in_order() -> None:
    fetched = threading.Event()

    def pages():
        yield from ({"page": n, "records": list(range(100))} for n in range(40))
        fetched.set()

    reader = read_ahead(pages(), depth=2, spool_bytes=10 * 2**20)
    # Nobody reads yet: the whole list is fetched anyway, all but two pages to disk.
    assert fetched.wait(timeout=10)
    assert reader.fetched
    channel = reader._channel
    assert channel.in_memory == 0  # read ahead of its turn, everything goes to the spool
    assert channel.spooled > 0
    assert [page["page"] for page in reader] == list(range(40))
    assert channel.spool is None  # closed (and so removed) at the end


def test_the_spool_has_a_limit_and_reading_stops_the_spooling() -> None:
    handed = []

    def pages():
        for n in range(1000):
            handed.append(n)
            yield [n] * 1000

    reader = read_ahead(pages(), depth=1, spool_bytes=20_000)
    deadline = threading.Event()
    while len(handed) < 10 and not deadline.wait(0.01):
        pass
    deadline.wait(0.2)
    # Each page is about 2 KB pickled: the spool stops after about 10, and waits.
    assert 8 <= len(handed) <= 14
    assert next(reader) == [0] * 1000
    spooled_before = reader._channel.spooled
    assert [next(reader)[0] for _ in range(20)] == list(range(1, 21))
    assert reader._channel.spooled < spooled_before  # read back, and none added since
    reader.close()
