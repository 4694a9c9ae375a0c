"""Module 3.x list parameters: ``page``/``per_page``, ``fields``, ``sort``, ``created_after``/``_before``.

The paging happens in SQL (``LIMIT``/``OFFSET`` and a ``COUNT(*)``), so lists stay usable at
100,000 rows.  Without ``page`` and ``per_page`` the answer is the legacy plain array (what
2.x clients expect); the other parameters still apply to it.

Choice (documented in the package docstring): an empty result, including a page past the end,
answers 404 ``No data were found`` as the module's controllers do for any empty list; the
``meta.total`` of a non-empty page is the only reliable count.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100

_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?))?$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ListParamError(Exception):
    """Invalid list parameters: the 422 validation envelope's ``errors`` map."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ListQuery:
    paged: bool = False
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    fields: tuple[str, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    created_after: str | None = None
    created_before: str | None = None


def _positive_int(raw: str, name: str, errors: dict[str, str], *, upper: int | None = None) -> int:
    if not raw.isdigit() or int(raw) < 1 or (upper is not None and int(raw) > upper):
        bound = f" between 1 and {upper}" if upper is not None else " of at least 1"
        errors[name] = f"The {name} must be an integer{bound}."
        return 1
    return int(raw)


def _bound(raw: str, name: str, errors: dict[str, str], *, end: bool) -> str | None:
    m = _DATE.match(raw.strip())
    if not m:
        errors[name] = f"The {name} is not a valid ISO date (YYYY-MM-DD)."
        return None
    day, time = m.group(1), m.group(2)
    if time is None:
        time = "23:59:59" if end else "00:00:00"
    elif len(time) == 5:
        time += ":59" if end else ":00"
    return f"{day} {time}"


def parse_list_query(query: Mapping[str, str], sortable: Sequence[str], selectable: Sequence[str]) -> ListQuery:
    """Read the 3.x list parameters; raise :class:`ListParamError` for invalid ones."""
    errors: dict[str, str] = {}
    paged = "page" in query or "per_page" in query
    page = _positive_int(query["page"], "page", errors) if "page" in query else 1
    per_page = DEFAULT_PER_PAGE
    # A bare ``limit`` does not page; with ``page`` it is an alias of ``per_page``.
    raw_per_page = query.get("per_page", query.get("limit") if "page" in query else None)
    if raw_per_page is not None:
        per_page = _positive_int(raw_per_page, "per_page", errors, upper=MAX_PER_PAGE)
    known = set(selectable)
    fields: list[str] = []
    for name in filter(None, (f.strip() for f in query.get("fields", "").split(","))):
        if name not in known:
            errors["fields"] = f"Unknown field '{name}'."
        elif name not in fields:
            fields.append(name)
    sort: list[tuple[str, bool]] = []
    for item in filter(None, (s.strip() for s in query.get("sort", "").split(","))):
        name = item.removeprefix("-")
        if not _COLUMN.match(name) or name not in sortable:
            errors["sort"] = f"Unknown sort column '{name}'."
        else:
            sort.append((name, item.startswith("-")))
    after = _bound(query["created_after"], "created_after", errors, end=False) if "created_after" in query else None
    before = _bound(query["created_before"], "created_before", errors, end=True) if "created_before" in query else None
    if errors:
        raise ListParamError(errors)
    return ListQuery(paged, page, per_page, tuple(fields), tuple(sort), after, before)


@dataclass(frozen=True)
class ListSource:
    """How to page one resource in SQL.

    ``select`` yields the output rows, ``count`` counts them (both end before any WHERE);
    ``where``/``params`` is the resource's own filter (e.g. one customer's contacts);
    ``sortable`` maps an output column to its SQL expression; ``date_column`` is the creation
    date's SQL expression; ``default_order`` the legacy order."""

    select: str
    count: str
    sortable: Mapping[str, str]
    date_column: str
    default_order: str
    where: str = ""
    params: tuple[Any, ...] = ()
    #: "table alias" and key column of a source whose ``select`` joins other tables: its pages are
    #: cut on that table alone (the skipped rows of an OFFSET then cost an index step, not a join)
    page_table: str = ""
    page_key: str = ""


def build_sql(source: ListSource, q: ListQuery) -> tuple[str, str, tuple[Any, ...]]:
    """(row query, count query, parameters) for ``q`` over ``source``."""
    conditions: list[str] = [source.where] if source.where else []
    params: list[Any] = list(source.params)
    if q.created_after is not None:
        conditions.append(f"{source.date_column} >= ?")
        params.append(q.created_after)
    if q.created_before is not None:
        conditions.append(f"{source.date_column} <= ?")
        params.append(q.created_before)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = ", ".join(f"{source.sortable[c]} {'DESC' if d else 'ASC'}" for c, d in q.sort)
    order = f"{order}, {source.default_order}" if order else source.default_order
    rows_sql = f"{source.select}{where} ORDER BY {order}"
    window = f" LIMIT {q.per_page} OFFSET {(q.page - 1) * q.per_page}"
    if q.paged and source.page_table:
        keys = f"SELECT {source.page_key} FROM {source.page_table}{where} ORDER BY {order}{window}"
        # the same parameters serve the inner WHERE; the outer one is the key list alone
        rows_sql = f"{source.select} WHERE {source.page_key} IN ({keys}) ORDER BY {order}"
    elif q.paged:
        rows_sql += window
    return rows_sql, f"{source.count}{where}", tuple(params)


def project(rows: list[dict[str, str | None]], q: ListQuery, id_column: str) -> list[dict[str, str | None]]:
    """Keep only the asked ``fields`` (and always the id)."""
    if not q.fields:
        return rows
    keep = [id_column, *(f for f in q.fields if f != id_column)]
    return [{k: r.get(k) for k in keep} for r in rows]


def envelope(rows: list[dict[str, str | None]], q: ListQuery, total: int) -> dict[str, Any]:
    total_pages = max(1, math.ceil(total / q.per_page))
    return {
        "data": rows,
        "meta": {
            "page": q.page,
            "per_page": q.per_page,
            "total": total,
            "total_pages": total_pages,
            "has_more": q.page < total_pages,
            "current_page": q.page,
            "last_page": total_pages,
        },
    }
