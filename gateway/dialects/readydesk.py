"""The ReadyDesk API: ``GET``/``POST /API/default.aspx?key=...&action=...`` (seed 002).

Transport only; every field is in ``mappings/readydesk/*.yaml``.  On the wire:

* the path is matched case-insensitively (``/api/Default.ASPX``, ``/API/``,
  ``/API``), under the configured prefix (default none); parameters come from
  the query string and the form body, merged; the action in any letter case;
* ``key`` is a configured client's secret;
* ``format`` = ``xml`` (default), ``json`` or ``url``: XML
  ``<tickets><ticket>...</ticket></tickets>``, JSON ``{"tickets": [...]}``,
  URL-delimited ``name=value&...`` one record per line (``\\n``);
  ``count_only=Y`` answers ``<count>N</count>``, ``{"count": N}`` or ``count=N``;
* ``custom_fields`` (names from the mapping's ``settings.custom_fields``; PMP
  tickets have no values): XML child elements, JSON a list holding one object,
  URL each ``name=value`` then ``custom_fields=name1,name2``;
* every error is HTTP 200 with an error record in the requested format
  (``<error>..</error>``, ``{"error": ".."}``, ``error=..`` form-encoded),
  except 413 for a body over the limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote_plus

from aiohttp import web

from gateway import formats
from gateway.auth import Credentials, Principal
from gateway.dialects.base import Dialect, Inbound, Route, read_form
from gateway.errors import (
    GatewayError,
    PayloadTooLarge,
)
from gateway.mapping.loader import ActionSpec
from gateway.mapping.transforms import to_bool

FORMATS = ("xml", "json", "url")
XML_DECL = '<?xml version="1.0"?>'
_CI = "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else "\\" + c for c in "default.aspx")
PATH = "/{api:[Aa][Pp][Ii](?:/(?:" + _CI + ")?)?}"


class ReadyDeskDialect(Dialect):
    name: ClassVar[str] = "readydesk"
    vendor: ClassVar[str] = "readydesk"
    default_prefix: ClassVar[str] = ""
    example_path: ClassVar[str] = "/API/default.aspx?key=KEY&action=get_tickets&tid=*"
    route_table: ClassVar[tuple[Route, ...]] = (Route("GET", PATH), Route("POST", PATH))

    @property
    def custom_fields(self) -> tuple[str, ...]:
        return tuple(str(n) for n in getattr(self.mappings.config, "custom_fields", ()))

    async def read(self, request: web.Request, route: Route, inbound: Inbound) -> None:
        inbound.fmt = self._format(request.query.get("format"))
        params = await read_form(request, self.max_body)
        inbound.params = params
        inbound.fmt = self._format(params.get("format"))
        inbound.action = str(params.get("action") or "").strip()

    def format_for(self, params: Mapping[str, str]) -> str:
        return self._format(params.get("format"))

    def claims(self, path: str) -> bool:
        rest = path[len(self.prefix) :] if path.startswith(self.prefix) else None
        return rest is not None and re.fullmatch(r"/api(/(default\.aspx)?)?", rest, re.IGNORECASE) is not None

    def claim(self, path: str) -> int:
        # an exact path (any letter case): more specific than any prefix that holds it
        return len(path) + 2 if self.claims(path) else 0

    def _format(self, requested: Any) -> str:
        value = str(requested or "").strip().lower()
        if value in FORMATS:
            return value
        default = self.settings.default_format or str(getattr(self.mappings.config, "default_format", "xml"))
        return default if default in FORMATS else "xml"

    def authenticate(self, request: web.Request, inbound: Inbound, credentials: Credentials) -> Principal:
        return credentials.by_key(str(inbound.params.get("key") or ""))

    # -- answers --------------------------------------------------------------

    def success(self, inbound: Inbound, spec: ActionSpec, body: Any) -> web.Response:
        body = body or {}
        flag = spec.options.get("count_only")
        if flag and _yes(inbound.params.get(str(flag))):
            return self._count(inbound.fmt, int(body.get("count") or 0))
        return self._records(inbound.fmt, list(body.get("tickets") or ()))

    def error(self, inbound: Inbound, exc: GatewayError) -> web.Response:
        status = 413 if isinstance(exc, PayloadTooLarge) else 200
        message = self.error_text(inbound, exc)
        fmt = inbound.fmt or self._format(None)
        if fmt == "json":
            return _json({"error": message}, status)
        if fmt == "url":
            return _text(f"error={quote_plus(message)}", status)
        return _xml(f"{XML_DECL}\n<error>{formats.xml_text(message)}</error>", status)

    def _count(self, fmt: str, count: int) -> web.Response:
        if fmt == "json":
            return _json({"count": count})
        if fmt == "url":
            return _text(f"count={count}")
        return _xml(f"{XML_DECL}\n<count>{count}</count>")

    def _records(self, fmt: str, records: Sequence[Mapping[str, Any]]) -> web.Response:
        names = self.custom_fields
        if fmt == "json":
            blank = {n: "" for n in names}
            return _json({"tickets": [_with(r, "custom_fields", [blank]) for r in records]})
        if fmt == "url":
            return _text("\n".join(_url_line(r, names) for r in records))
        out = [XML_DECL, "<tickets>"]
        for record in records:
            out.append("\t<ticket>")
            for key, value in record.items():
                if key == "custom_fields":
                    out.extend(_xml_custom(names))
                else:
                    name = formats.xml_name(key)
                    out.append(f"\t\t<{name}>{formats.xml_text(value)}</{name}>")
            out.append("\t</ticket>")
        out.append("</tickets>")
        return _xml("\n".join(out))


def _yes(value: Any) -> bool:
    try:
        return to_bool(value)
    except ValueError:
        return False


def _with(record: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
    """The record with ``key``'s value replaced (in its place; not added when absent)."""
    out = dict(record)  # (a C copy: the comprehension this replaces cost a list row 2 µs)
    if key in out:
        out[key] = value
    return out


def _xml_custom(names: Sequence[str]) -> list[str]:
    if not names:
        return ["\t\t<custom_fields></custom_fields>"]
    inner = [f"\t\t\t<{formats.xml_name(n)}></{formats.xml_name(n)}>" for n in names]
    return ["\t\t<custom_fields>", *inner, "\t\t</custom_fields>"]


def _url_line(record: Mapping[str, Any], names: Sequence[str]) -> str:
    pairs: list[str] = []
    for key, value in record.items():
        if key == "custom_fields":
            pairs.extend(f"{quote_plus(n)}=" for n in names)
            pairs.append("custom_fields=" + ",".join(quote_plus(n) for n in names))
        else:
            pairs.append(f"{key}={_flat(value)}")
    return "&".join(pairs)


def _flat(value: Any) -> str:
    # "URL Encoded: No" values are written as they are, as the seed shows; a line
    # break would end the record, so it cannot be written raw
    text = "" if value is None else str(value)
    return text.replace("\r", "%0D").replace("\n", "%0A")


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=formats.json_bytes(payload), status=status, content_type="application/json")


def _text(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/plain", charset="utf-8")


def _xml(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/xml", charset="utf-8")


DIALECT = ReadyDeskDialect
