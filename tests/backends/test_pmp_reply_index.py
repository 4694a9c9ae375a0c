"""The PMP reply index on disk: filled from a stream of rows, read back per ticket in the table's
order, fed by writes, dropped on close (a later read fills a new one)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.backends.pmp.reply_index import ReplyIndex, rows_from
from gateway.backends.pmp.wire import Row


async def _rows(n: int) -> AsyncIterator[Row]:
    for i in range(1, n + 1):
        yield {"id": str(i), "ticketid": str(i % 7), "message": f"reply {i}", "date": f"2024-01-01 00:00:{i % 60:02d}"}


async def test_a_streamed_table_is_indexed_per_ticket_in_table_order() -> None:
    index = ReplyIndex()
    try:
        # more rows than one insert batch; ticket 0 (i % 7 == 0) is no ticket and is left out
        assert await index.fill(_rows(2500)) == 2500 - 2500 // 7
        three = index.rows(3)
        assert [r["id"] for r in three] == [str(i) for i in range(3, 2501, 7)]
        assert three[0] == {"id": "3", "ticketid": "3", "message": "reply 3", "date": "2024-01-01 00:00:03"}
        assert index.rows(0) == [] and index.rows(99) == []
        index.add({"id": "9999", "ticketid": "3", "message": "new", "date": "2024-02-01 00:00:00"})
        assert index.rows(3)[-1]["id"] == "9999"
    finally:
        index.close()
    assert index.rows(3) == []


async def test_rows_read_whole_fill_the_same_way() -> None:
    index = ReplyIndex()
    try:
        await index.fill(rows_from([{"id": 1, "ticketid": 2, "message": None}, {"id": 2, "ticketid": "x"}]))
        assert index.rows(2) == [{"id": 1, "ticketid": 2, "message": None}]
    finally:
        index.close()
