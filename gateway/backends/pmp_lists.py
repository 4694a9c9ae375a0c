"""PMP ticket lists: backend pages and the header index's reads, on both module generations.

Module 3.x pages a list route when asked ``page``/``per_page`` (1-100), orders
it by ``sort`` and projects it to ``fields``, answering ``{data, meta}``
(reference/pmp-module-3.md, "Lists"); 2.x ignores those parameters and
answers the whole table as a plain array.  The same request therefore works
on both, and the answer's shape says which generation served it:

* :meth:`PMPLists.headers` (the header index's refresh) asks page 1 with
  ``fields=`` (the columns of ``settings.ticket_header_fields``).  An envelope
  is followed by the other pages, a few at a time; a plain array is 2.x's full
  listing, read as a stream through the transport (:mod:`gateway.backends.jsonstream`)
  so that the rows of a large table never sit in memory together: only their headers stay.
* :meth:`PMPLists.page` serves a page of all tickets in an order the backend
  can sort by (``settings.ticket_sort_columns``).  A backend that ignores
  paging still serves it from its plain array while that array is small
  (``settings.unpaged_page_limit``); above that it answers None and the
  service uses the header index instead, so that no request reads a large
  table.  A 404 (``No data were found``) is an empty page, never a total.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from cachetools import LRUCache

from gateway.backends import http, jsonstream
from gateway.backends.base import TicketHeader
from gateway.canonical import Ticket
from gateway.errors import BackendTimeout, BackendUnavailable, GatewayError
from gateway.mapping.loader import VendorMappings

if TYPE_CHECKING:
    from gateway.backends.pmp.wire import Wire

log = logging.getLogger(__name__)

Row = dict[str, Any]
T = TypeVar("T")
MEMO_BODY_LIMIT = 1 << 20  # a page answer bigger than this is not kept
HEADER_CHUNK = 1000  # headers of 2.x's streamed listing handed to the index at a time
_SPACE = b" \t\r\n\xef\xbb\xbf"
#: What a streamed answer's JSON array is handed to: its first bytes, and the rest still to read.
OnArray = Callable[[bytes, http.Body], Awaitable[T]]


class _Page:
    """One list answer: its rows, and the total when the backend said it (envelope) or implied it (array)."""

    def __init__(self, rows: list[Row], total: int | None, paged: bool) -> None:
        self.rows = rows
        self.total = total
        self.paged = paged


class PMPLists:
    """Ticket lists over the adapter's :class:`~gateway.backends.pmp.wire.Wire` (its injected
    transport, streamed where the transport can) and its ticket record parse."""

    def __init__(self, wire: Wire, mappings: VendorMappings, ticket: Callable[[Row], Ticket]) -> None:
        self._wire = wire
        self._ticket = ticket
        s = mappings.settings
        self._fields = ",".join(str(f) for f in s.get("ticket_header_fields") or ())
        self._page_size = max(1, min(100, int(s.get("list_page_size", 100))))
        self._concurrency = max(1, int(s.get("header_concurrency", 4)))
        self._unpaged_limit = int(s.get("unpaged_page_limit", 200))
        self._sort_columns: Mapping[str, str] = s.get("ticket_sort_columns") or {"id": "ticketid"}
        self._header = mappings.model("ticket_header")
        self.unpaged_large = False  # learned: the backend ignores paging and its table is large
        # (path, window) -> (the page's body, what it gave): a few hot pages (page 1, polled), bounded
        self._memo: LRUCache[tuple[str, int, int, bool], tuple[bytes, tuple[list[Ticket], int]]] = LRUCache(
            maxsize=int(s.get("page_memo_size", 8))
        )

    # ------------------------------------------------------------ the header index

    async def headers(self) -> list[TicketHeader]:
        """Every ticket's header: paged and projected on 3.x, one streamed full listing on 2.x."""
        out: list[TicketHeader] = []
        async for chunk in self.header_chunks():
            out.extend(chunk)
        # rows inserted or deleted while paging can shift a row onto two pages: one header per id
        return list({h.id: h for h in out}.values())

    async def header_chunks(self) -> AsyncGenerator[list[TicketHeader], None]:
        """Every ticket's header, a page at a time, in page order (3.x: pages asked for a few at
        once, each handed on as soon as the ones before it were): the index fills itself from them,
        so a refresh never holds every header of a large backend as objects at once (at 20,000
        tickets that list was the worker's peak memory).  A row that paging shifted onto two pages
        comes twice (the consumer keeps one per id).  2.x's full listing comes in chunks of
        ``HEADER_CHUNK`` as it streams in (a listing retried after a broken connection comes again
        from its start: the consumer keeps the last header of each id)."""
        query = {"page": "1", "per_page": str(self._page_size), "sort": "ticketid"}
        if self._fields:
            query["fields"] = self._fields
        chunks: asyncio.Queue[list[TicketHeader]] = asyncio.Queue(maxsize=2)  # (the reader waits for us)

        async def on_array(head: bytes, body: http.Body) -> None:
            batch: list[TicketHeader] = []
            async for row in _stream_rows(head, body):
                batch.append(self._to_header(row))
                if len(batch) >= HEADER_CHUNK:
                    await chunks.put(batch)
                    batch = []
            await chunks.put(batch)

        reader = asyncio.ensure_future(self._streamed(f"api/tickets?{urlencode(query)}", on_array))
        try:
            while not (reader.done() and chunks.empty()):
                taken = asyncio.ensure_future(chunks.get())
                await asyncio.wait((taken, reader), return_when=asyncio.FIRST_COMPLETED)
                if taken.done():
                    yield taken.result()
                else:
                    taken.cancel()
            answer = reader.result()  # (the listing's failure, if it failed)
        finally:
            _give_up((reader,))
        if answer is None:
            return  # 2.x: the whole listing, streamed
        first = self._as_page(self._wire.interpret(answer))
        yield [self._to_header(r) for r in first.rows]
        if not first.paged:
            return
        pages = -(-(first.total or 0) // self._page_size)
        numbers = iter(range(2, pages + 1))

        async def one(number: int) -> list[TicketHeader]:
            page = await self._page(f"api/tickets?{urlencode({**query, 'page': str(number)})}")
            return [self._to_header(r) for r in page.rows]

        ahead = collections.deque(asyncio.ensure_future(one(n)) for n in itertools.islice(numbers, self._concurrency))
        try:
            while ahead:
                chunk = await ahead.popleft()
                following = next(numbers, None)
                if following is not None:
                    ahead.append(asyncio.ensure_future(one(following)))
                yield chunk
        finally:
            _give_up(ahead)  # (the consumer stopped, or a page failed: the others are not waited for)

    def _to_header(self, row: Row) -> TicketHeader:
        try:
            d = self._header(row)
            return TicketHeader(
                d["id"],
                d["status"],
                d["priority"],
                d.get("department_id") or 0,
                d.get("customer_id") or 0,
                d.get("contact_id") or 0,
                d.get("email") or "",
                d.get("subject") or "",
                d.get("created_at"),
                d.get("last_reply_at"),
                d.get("department_name") or "",
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise BackendUnavailable("The backend is unavailable (a ticket row has the wrong shape)") from exc

    async def _streamed(self, path: str, on_array: OnArray[T]) -> T | http.Reply:
        """GET ``path``; a JSON array answer is handed to ``on_array`` as a stream, any other comes back
        whole.  Retried like every read on connection errors and 429/502/503/504."""
        tries = 0
        failure: GatewayError
        while True:
            try:
                async with self._wire.stream(path) as reply:
                    if reply.status not in http.RETRYABLE_STATUS:
                        head = await _head(reply.body)
                        if reply.status == 200 and head[:1] == b"[":
                            return await on_array(head, reply.body)
                        return http.Reply(reply.status, reply.headers, head + await reply.body.read())
                    failure = unavailable(f"HTTP {reply.status}")
                    wait = http.retry_after(reply.headers)
            except http.TransportError as exc:
                failure = BackendTimeout(http.TIMEOUT_MESSAGE) if exc.timeout else unavailable(exc.detail)
                wait = None
            tries += 1
            pause = wait if wait is not None else self._wire.backoff_for(tries)
            if tries >= self._wire.attempts or not await http.pause(pause):
                raise failure

    async def each_row(self, path: str, consume: Callable[[AsyncIterator[Row]], Awaitable[None]]) -> None:
        """A list route's rows handed to ``consume`` as they arrive: a JSON array answer parsed as a
        stream, never whole in memory (a custom table's whole listing); any other answer (a 3.x
        envelope, "No data were found") read whole."""

        async def on_array(head: bytes, body: http.Body) -> None:
            await consume(_stream_rows(head, body))

        answer = await self._streamed(path, on_array)
        if isinstance(answer, http.Reply):
            await consume(_iterate(self._as_page(self._wire.interpret(answer)).rows))

    async def ticket_rows(self, columns: Sequence[str], keep: Callable[[Row], bool] | None = None) -> list[Row]:
        """Every ticket row (``keep``: those it accepts) cut to ``columns``, streamed: a 2.x create's
        listing without the whole table in memory."""

        def wanted(rows: Iterable[Row]) -> Iterator[Row]:
            return (r for r in rows if keep is None or keep(r))

        async def cut(head: bytes, body: http.Body) -> list[Row]:
            return [
                {k: row.get(k) for k in columns} async for row in _stream_rows(head, body) if keep is None or keep(row)
            ]

        answer = await self._streamed("api/tickets", cut)
        if isinstance(answer, http.Reply):
            rows = self._as_page(self._wire.interpret(answer)).rows
            return [{k: row.get(k) for k in columns} for row in wanted(rows)]
        return answer

    async def _page(self, path: str) -> _Page:
        return self._as_page(self._wire.interpret(await self._wire.fetch(path)))

    def _as_page(self, data: Any) -> _Page:
        if isinstance(data, list):
            if not all(map(isinstance, data, itertools.repeat(dict))):  # (no generator frame per row)
                raise BackendUnavailable("The backend is unavailable (a list answer has the wrong shape)")
            return _Page(data, len(data), paged=False)
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            meta = data.get("meta")
            total = _int(meta.get("total")) if isinstance(meta, dict) else None
            return _Page([r for r in data["data"] if isinstance(r, dict)], total, paged=True)
        status = getattr(data, "status", None)
        if status == 404:  # "No data were found": an empty page, not a total
            return _Page([], None, paged=True)
        raise BackendUnavailable(f"The backend is unavailable (a list answer has the wrong shape, HTTP {status})")

    # ------------------------------------------------------------ pages of all tickets

    async def page(
        self, offset: int, limit: int, order_by: str | None, descending: bool
    ) -> tuple[list[Ticket], int] | None:
        """Tickets ``[offset, offset+limit)`` of all, in ``order_by`` order, and the total; None: ask the index."""
        column = self._sort_columns.get(order_by or "id")
        if column is None or self.unpaged_large:
            return None
        per, first, last = self._pages(offset, limit)
        if last - first >= 4:
            return None  # a wide window: the index and single reads serve it better
        sort = ("-" if descending else "") + column

        def path(number: int) -> str:
            return _page_path(number, per, sort)

        reply = await self._bounded(path(first))
        if reply is None:  # the backend ignores paging and answered a large table: never parse it here
            self.unpaged_large = True
            log.info("pmp: the ticket list route does not page and its table is large: lists use the index")
            return None
        key = (path(first), offset, limit, descending)
        hit = self._memo.get(key)
        if hit is not None and reply.status == 200 and hit[0] == reply.body:
            return hit[1]  # a polled page whose answer did not change: not decoded and mapped again
        answers = [self._as_page(self._wire.interpret(reply))]
        if answers[0].paged and last > first:
            answers += await asyncio.gather(*(self._page(path(p)) for p in range(first + 1, last + 1)))
        if not answers[0].paged:
            result = self._from_full(answers[0].rows, offset, limit, descending)
            if result is not None and reply.status == 200 and len(reply.body) <= MEMO_BODY_LIMIT:
                self._memo[key] = (reply.body, result)
            return result
        rows = [r for a in answers for r in a.rows]
        skip = offset - (first - 1) * per
        items = rows[skip : skip + limit] if limit > 0 else []
        total = next((a.total for a in answers if a.total is not None), None)
        if total is None:
            total = (
                0
                if first == 1
                else (await self._page(f"api/tickets?{urlencode({'page': 1, 'per_page': 1})}")).total or 0
            )
        result = [self._ticket(r) for r in items], total
        if last == first and reply.status == 200 and len(reply.body) <= MEMO_BODY_LIMIT:
            self._memo[key] = (reply.body, result)
        return result

    async def _bounded(self, path: str) -> http.Reply | None:
        """A GET whose answer is read whole only up to MEMO_BODY_LIMIT bytes: None for a longer plain
        array (2.x's whole table, answered to a page request), which is left unread."""
        try:
            async with self._wire.stream(path) as reply:
                if reply.status not in http.RETRYABLE_STATUS:
                    # the parts joined once at the end (a body read in one part is that part itself)
                    parts: list[bytes] = []
                    size = 0
                    while size <= MEMO_BODY_LIMIT:
                        chunk = await reply.body.read(65536)
                        if not chunk:
                            return http.Reply(reply.status, reply.headers, b"".join(parts))
                        parts.append(chunk)
                        size += len(chunk)
                    body = b"".join(parts)
                    if body.lstrip(_SPACE)[:1] == b"[":
                        return None
                    return http.Reply(reply.status, reply.headers, body + await reply.body.read())
        except http.TransportError:
            pass
        return await self._wire.fetch(path)  # with its retries and pacing, and its failure in the usual words

    def _pages(self, offset: int, limit: int) -> tuple[int, int, int]:
        """(per_page, first page, last page) covering ``[offset, offset+limit)``: one page when one fits."""
        if limit <= 0:
            return 1, 1, 1  # the total alone
        for per in range(min(limit, self._page_size), self._page_size + 1):
            if offset // per == (offset + limit - 1) // per:
                return per, offset // per + 1, offset // per + 1
        per = self._page_size
        return per, offset // per + 1, (offset + limit - 1) // per + 1

    def _from_full(self, rows: list[Row], offset: int, limit: int, descending: bool) -> tuple[list[Ticket], int] | None:
        """A backend that ignores paging answered its whole table: cut the page from it while it is small."""
        if len(rows) > self._unpaged_limit:
            self.unpaged_large = True
            log.info("pmp: the ticket list route does not page and holds %d tickets: lists use the index", len(rows))
        if limit <= 0:
            return [], len(rows)
        # the rows' ids read without a call each (_row_id's common case inline), then the rows
        # ordered by them as sorted(rows, key=_row_id, reverse=descending) orders them (the same
        # stable sort over the same keys, its key function the list's own C-level item look-up)
        ids = [int(v) if type(v := r.get("ticketid")) is str and v.isascii() and v.isdigit() else _int(v) for r in rows]
        order = sorted(range(len(rows)), key=ids.__getitem__, reverse=descending)
        return [self._ticket(rows[i]) for i in order[offset : offset + limit]], len(rows)


@functools.lru_cache(maxsize=1024)
def _page_path(number: int, per: int, sort: str) -> str:
    """A page's path (a polled list asks for the same few on every request: urlencode is not free)."""
    return f"api/tickets?{urlencode({'page': number, 'per_page': per, 'sort': sort})}"


async def _stream_rows(head: bytes, body: http.Body) -> AsyncIterator[Row]:
    try:
        async for batch in jsonstream.array_batches(body, head=head):
            for row in batch:
                if not isinstance(row, dict):
                    raise BackendUnavailable("The backend is unavailable (a list answer has the wrong shape)")
                yield row
            # a read of bytes already buffered does not yield: let requests run between batches
            await asyncio.sleep(0)
    except ValueError as exc:  # NotAnArray, orjson.JSONDecodeError
        raise BackendUnavailable(f"The backend is unavailable ({type(exc).__name__})") from None


async def _iterate(rows: list[Row]) -> AsyncIterator[Row]:
    for row in rows:
        yield row


async def _head(stream: http.Body) -> bytes:
    """The answer's first bytes from its first significant one (b"" for a blank body)."""
    head = b""
    while True:
        chunk = await stream.read(256)
        if not chunk:
            return head
        head = (head + chunk).lstrip(_SPACE)
        if head:
            return head


def _row_id(row: Row) -> int:
    """A row's ticket id as ``_int`` reads it; the usual digits-only text without its try and strip."""
    value = row.get("ticketid")
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    return _int(value)


def _int(value: Any) -> int:
    try:
        return int(str(value).strip()) if value not in (None, "") else 0
    except ValueError:
        return 0


def unavailable(detail: str) -> BackendUnavailable:
    return BackendUnavailable(f"The backend is unavailable ({detail})")


def _give_up(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel the tasks still running; a failure any of them ends with is not one to log as never
    retrieved (nobody waits for them any more)."""
    for task in tasks:
        task.cancel()
        task.add_done_callback(_retrieved)


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
