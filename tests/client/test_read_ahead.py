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
