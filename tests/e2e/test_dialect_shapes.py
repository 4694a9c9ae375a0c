"""Every answer under a dialect's prefix is in that dialect's shape (issue 9 item 8).

Odd paths (an empty or doubled id, ids with braces, deeper paths) and every
method are sent under each dialect's prefix; each answer must look like that
dialect's own error: the same content type and the same envelope (JSON keys,
XML root element, NVP keys) as its "unknown action" answer, never the server's
plain-text ``404: Not Found`` or ``405: Method Not Allowed``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from defusedxml import ElementTree

from gateway.app import STATE, claiming_dialect
from gateway.dialects.base import Dialect, Inbound
from gateway.errors import UnknownAction
from tests.conftest import Gateway

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
CASE_VARIANTS = ("/API/default.aspx", "/api/Default.ASPX", "/API/", "/Api")


def _envelope(content_type: str, text: str) -> Any:
    """What identifies a body's shape: JSON keys, XML root tag, or NVP/URL keys."""
    if content_type == "application/json":
        return ("json", frozenset(json.loads(text)))
    if content_type in ("text/xml", "application/xml"):
        return ("xml", ElementTree.fromstring(text.encode()).tag)
    pairs = re.split(r"[;&]", text.strip().rstrip(";"))
    return ("text", frozenset(p.split("=", 1)[0] for p in pairs if p))


def _probes(prefix: str, route_paths: list[str]) -> set[str]:
    paths = {prefix or "/", prefix + "/", prefix + "//1", prefix + "/{1}", prefix + "/x/{y}/z", prefix + "/1}"}
    for path in route_paths:
        if "{api:" in path:
            continue  # a pattern, not a path: the case variants below stand for it
        for fill in ("", "{1}", "1/", "/1"):
            paths.add(re.sub(r"\{[^}]*\}", lambda _m, f=fill: f, path))  # type: ignore[misc]
    return paths | {prefix + v for v in CASE_VARIANTS}


def _reference(dialect: Dialect) -> tuple[str, Any]:
    response = dialect.error(Inbound(fmt=dialect.format_for({})), UnknownAction())
    assert response.body is not None
    body = response.body if isinstance(response.body, bytes) else str(response.body).encode()
    return response.content_type, _envelope(response.content_type, body.decode())


async def test_every_answer_under_a_prefix_is_in_the_dialects_shape(gateway: Gateway) -> None:
    runtime = gateway.app[STATE].runtime
    assert runtime is not None
    dialects = list(runtime.dialects.values())
    probed: dict[str, int] = {d.name: 0 for d in dialects}
    for dialect in dialects:
        routes = [r.path for r in type(dialect).routes_for(dialect.prefix)]
        for path in sorted(_probes(dialect.prefix, routes)):
            owner = claiming_dialect(dialects, path)
            if owner is not dialect:
                continue
            ctype, envelope = _reference(dialect)
            for method in METHODS:
                async with gateway.session.request(method, gateway.url + path) as r:
                    text = await r.text()
                    where = f"{dialect.name}: {method} {path} -> {r.status} {r.content_type} {text[:80]!r}"
                    assert r.content_type == ctype, where
                    assert _envelope(r.content_type, text) == envelope, where
                    assert not re.match(r"40[45]: ", text), where
                probed[dialect.name] += 1
    assert all(n >= 6 for n in probed.values()), probed


async def test_clientexec_odd_ticket_paths_get_its_json_404(gateway: Gateway) -> None:
    for path in ("/api/ticket/", "/api/ticket//1", "/api/ticket/{1}", "/api/ticket/%7B1%7D", "/api/ticket/1}"):
        async with gateway.session.get(gateway.url + path, headers={"X-API-KEY": "demo-secret"}) as r:
            assert r.status == 404, path
            assert await r.json() == {"error": True, "message": "Unknown API call"}, path


async def test_readydesk_other_methods_get_an_error_record(gateway: Gateway) -> None:
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        async with gateway.session.request(method, gateway.url + "/API/default.aspx?format=json&key=x") as r:
            assert (r.status, await r.json(content_type=None)) == (200, {"error": "Invalid action"}), method


async def test_paths_outside_every_prefix_keep_the_servers_404(gateway: Gateway) -> None:
    async with gateway.session.get(gateway.url + "/nothing-here") as r:
        assert r.status == 404
