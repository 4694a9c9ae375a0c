"""Module 3.x's list options, applied to the rows the PMP dialect rendered.

``page``/``per_page`` (1-100, default 25; ``limit`` is ``per_page``'s alias only when
``page`` is sent) answer ``{"data": [...], "meta": {page, per_page, total, total_pages,
has_more, current_page, last_page}}``; without them the plain array.  ``sort=-col,col2``
orders (``-`` descending), ``fields=a,b`` keeps those columns (and the id, a row's first
column), ``created_after``/``created_before`` (ISO dates, inclusive) filter on the row's
creation column.  Bad values are the module's 422 (InvalidInput naming the parameter).

The rows are the module's own columns, so this is done on them, whatever the backend.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from gateway.errors import InvalidInput

Row = dict[str, Any]

_COLUMN = re.compile(r"-?[A-Za-z0-9_]{1,64}")
_NUMBER = re.compile(r"-?[0-9]{1,18}(\.[0-9]+)?")


@dataclass(frozen=True)
class ListQuery:
    page: int | None = None  # None: the legacy plain array
    per_page: int = 25
    sort: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    fields: tuple[str, ...] = ()
    created_after: str | None = None  # "Y-m-d H:i:s", inclusive
    created_before: str | None = None


def parse_list_query(params: Mapping[str, Any], per_page_default: int = 25, per_page_max: int = 100) -> ListQuery:
    """The list options of a request (3.x); InvalidInput for a bad one."""
    paged = _given(params, "page") or _given(params, "per_page")
    page = per_page = None
    if paged:
        page = _int(params, "page", 1, 1, 10**9)
        size_key = "per_page" if _given(params, "per_page") else "limit"
        per_page = _int(params, size_key, per_page_default, 1, per_page_max)
    return ListQuery(
        page=page,
        per_page=per_page or per_page_default,
        sort=_sort(params.get("sort")),
        fields=_fields(params.get("fields")),
        created_after=_day(params, "created_after", "00:00:00"),
        created_before=_day(params, "created_before", "23:59:59"),
    )


def shape_list(rows: list[Row], query: ListQuery | None, default_sort: str, created_column: str) -> Any:
    """The answer for these rows: a plain array or the 3.x envelope; None (the module's 404)
    when nothing matched or the page is past the end.

    ``default_sort`` is the module's own order; ``created_column`` the rows' creation date."""
    rows = _sorted(rows, query.sort if query and query.sort else _sort(default_sort))
    if query is not None:
        rows = _created_between(rows, created_column, query.created_after, query.created_before)
    if not rows:
        return None
    if query is not None and query.fields:
        rows = [_project(row, query.fields) for row in rows]
    if query is None or query.page is None:
        return rows
    total = len(rows)
    pages = math.ceil(total / query.per_page)
    start = (query.page - 1) * query.per_page
    meta = {
        "page": query.page,
        "per_page": query.per_page,
        "total": total,
        "total_pages": pages,
        "has_more": query.page < pages,
        "current_page": query.page,
        "last_page": pages,
    }
    page = rows[start : start + query.per_page]
    # a page past the end is the module's 404 too (its meta.total is known from page 1)
    return {"data": page, "meta": meta} if page else None


#: The service's sort key for each row column whose order it gives exactly as the rows'
#: own sort would (unique values: no ties to break differently).
SERVED_SORTS: Mapping[str, str] = {"ticketid": "id"}


def served_page(query: ListQuery | None) -> tuple[int, int, str, bool] | None:
    """(offset, limit, order_by, descending) when the service can cut this page itself (its
    paged path: the backend's pages or the index), so the cost does not grow with the backend;
    None when the rows must be read whole (no paging asked, date filters, other sorts)."""
    if query is None or query.page is None or query.created_after or query.created_before:
        return None
    # the module's own order (ticketid) asked for explicitly: a backend that lists in its own
    # order (WHMCS) would otherwise keep that
    order_by, descending = "id", False
    if query.sort:
        if len(query.sort) != 1 or query.sort[0][0] not in SERVED_SORTS:
            return None
        order_by, descending = SERVED_SORTS[query.sort[0][0]], query.sort[0][1]
    return (query.page - 1) * query.per_page, query.per_page, order_by, descending


def shape_page(rows: list[Row], query: ListQuery, total: int) -> Any:
    """The answer for a page the service cut (``rows`` in order, ``total`` across all pages):
    exactly what :func:`shape_list` gives for the same page of the whole list."""
    if not rows:
        return None  # nothing matched, or a page past the end: the module's 404
    if query.fields:
        rows = [_project(row, query.fields) for row in rows]
    pages = math.ceil(total / query.per_page)
    meta = {
        "page": query.page,
        "per_page": query.per_page,
        "total": total,
        "total_pages": pages,
        "has_more": (query.page or 1) < pages,
        "current_page": query.page,
        "last_page": pages,
    }
    return {"data": rows, "meta": meta}


def search_rows(rows: list[Row], key: str, columns: Sequence[str]) -> list[Row]:
    """The rows holding ``key`` (case-insensitively) in one of the columns (``a+b``: joined)."""
    needle = key.strip().casefold()

    def text(row: Row, column: str) -> str:
        return " ".join(str(row.get(c) or "") for c in column.split("+")).casefold()

    return [row for row in rows if any(needle in text(row, c) for c in columns)]


# ------------------------------------------------------------------ parsing


def _given(params: Mapping[str, Any], key: str) -> bool:
    return params.get(key) not in (None, "")


def _int(params: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    raw = params.get(key)
    if raw in (None, ""):
        return default
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise InvalidInput(f"The {key} field must be an integer from {low} to {high}.", key)
    return int(text)


def _sort(raw: Any) -> tuple[tuple[str, bool], ...]:
    if raw in (None, ""):
        return ()
    out = []
    for part in str(raw).split(","):
        part = part.strip()
        if not _COLUMN.fullmatch(part):
            raise InvalidInput("The sort field must be column names separated by commas (-column: descending).", "sort")
        out.append((part.lstrip("-"), part.startswith("-")))
    return tuple(out)


def _fields(raw: Any) -> tuple[str, ...]:
    if raw in (None, ""):
        return ()
    names = tuple(p.strip() for p in str(raw).split(",") if p.strip())
    if not all(_COLUMN.fullmatch(n) and not n.startswith("-") for n in names):
        raise InvalidInput("The fields field must be column names separated by commas.", "fields")
    return names


def _day(params: Mapping[str, Any], key: str, time_of_day: str) -> str | None:
    """An ISO date (or date-time) as the module's ``Y-m-d H:i:s`` text, for comparing with rows."""
    raw = params.get(key)
    if raw in (None, ""):
        return None
    text = str(raw).strip()
    try:
        if len(text) == 10:
            return f"{date.fromisoformat(text).isoformat()} {time_of_day}"
        return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise InvalidInput(f"The {key} field must be an ISO date (YYYY-MM-DD).", key) from None


# ------------------------------------------------------------------ applying


def _sorted(rows: list[Row], order: Sequence[tuple[str, bool]]) -> list[Row]:
    if rows and order:
        known = set().union(*(row.keys() for row in rows))
        for column, _ in order:
            if column not in known:
                raise InvalidInput(f"The sort field names an unknown column: {column}.", "sort")
    out = list(rows)
    # stable sorts from the last key to the first give the multi-key order
    for column, descending in reversed(order):
        numeric = all(row.get(column) is None or _NUMBER.fullmatch(str(row.get(column))) for row in out)
        out.sort(key=_sort_key(column, numeric), reverse=descending)
    return out


def _sort_key(column: str, numeric: bool) -> Callable[[Row], tuple[int, Any]]:
    def key(row: Row) -> tuple[int, Any]:
        return _key(row.get(column), numeric)

    return key


def _key(value: Any, numeric: bool) -> tuple[int, Any]:
    # NULL first, as MySQL sorts them ascending
    if value is None:
        return (0, 0 if numeric else "")
    return (1, float(value)) if numeric else (1, str(value).casefold())


def _created_between(rows: list[Row], column: str, after: str | None, before: str | None) -> list[Row]:
    if after is None and before is None:
        return rows
    out = []
    for row in rows:
        created = _created(row.get(column))
        if created is None:
            continue
        if (after is None or created >= after) and (before is None or created <= before):
            out.append(row)
    return out


def _created(value: Any) -> str | None:
    """A row's creation date as ``Y-m-d H:i:s`` text (a bare date: its midnight)."""
    if not isinstance(value, str) or not value or value.startswith("0000-00-00"):
        return None
    return value if len(value) > 10 else value + " 00:00:00"


def _project(row: Row, fields: Sequence[str]) -> Row:
    id_column = next(iter(row), None)
    return {k: v for k, v in row.items() if k == id_column or k in fields}
