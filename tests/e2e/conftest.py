"""End-to-end helpers: real WHMCS client libraries against the loopback gateway.

whmcspy (requests) and whmcs-api-client (urllib3) are synchronous, so every call
runs in a worker thread while the event loop keeps serving the gateway and the
embedded PMP simulator.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import whmcs_client
import whmcspy
from defusedxml import ElementTree

from gateway.app import STATE
from gateway.mapping.source import load_yaml as _load_yaml
from gateway.pmp_sim import STATS_KEY
from tests.conftest import WHMCS_AUTH, Gateway

T = TypeVar("T")

API = "/includes/api.php"
DEMO_ID = WHMCS_AUTH["identifier"]
DEMO_SECRET = WHMCS_AUTH["secret"]
DEMO_MD5 = hashlib.md5(DEMO_SECRET.encode()).hexdigest()

# seed 001 (Keliweb get-ticket, also WHMCS's GetTicket shape)
TICKET_KEYS = {
    "result", "ticketid", "tid", "c", "deptid", "deptname", "userid", "contactid", "name", "email", "cc",
    "date", "subject", "status", "priority", "admin", "lastreply", "flag", "service", "replies", "notes",
}  # fmt: skip
REPLY_KEYS = {"replyid", "userid", "contactid", "name", "email", "date", "message", "attachment", "admin"}
NOTE_KEYS = {"noteid", "date", "message", "admin"}


_YAML_CACHE: dict[tuple[str, int, int, str | None], Any] = {}


def _cached_load_yaml(path: Path, display_name: str | None = None) -> Any:
    """Parsing the packaged YAML with locations is most of a gateway's start-up (~0.5 s);
    the loader only reads the parsed documents, so each file is parsed once per run."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, display_name)
    if key not in _YAML_CACHE:
        _YAML_CACHE[key] = _load_yaml(path, display_name)
    return _YAML_CACHE[key]


@pytest.fixture(autouse=True)
def _fast_mapping_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.mapping.loader.load_yaml", _cached_load_yaml)


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(fn, *args, **kwargs)


@pytest.fixture
def whmcspy_client(gateway: Gateway) -> whmcspy.WHMCS:
    return whmcspy.WHMCS(gateway.url + API, DEMO_ID, DEMO_SECRET)


@pytest.fixture
def whmcs_api(gateway: Gateway) -> Iterator[whmcs_client.DefaultApi]:
    config = whmcs_client.Configuration(host=gateway.url + "/includes")
    with whmcs_client.ApiClient(config) as api_client:
        yield whmcs_client.DefaultApi(api_client)


def writes(gateway: Gateway) -> int:
    """Non-GET requests that reached the simulator."""
    runner = gateway.app[STATE].sim_runner
    assert runner is not None
    return runner.app[STATS_KEY].writes


async def raw(
    gateway: Gateway,
    data: dict[str, str] | None = None,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """POST to the WHMCS endpoint exactly as given (no credentials added): status, content type, text."""
    async with gateway.session.post(gateway.url + API, data=data, params=query, headers=headers) as resp:
        return resp.status, resp.content_type, await resp.text()


def parse_xml(text: str) -> Any:
    return ElementTree.fromstring(text.encode())


def parse_nvp(text: str) -> dict[str, str]:
    assert text.endswith(";"), text
    return dict(part.split("=", 1) for part in text[:-1].split(";"))


def all_strings(value: Any, path: str = "") -> None:
    """Every scalar inside ``value`` is a str (GetTicket, seed 001)."""
    if isinstance(value, dict):
        for key, item in value.items():
            all_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            all_strings(item, f"{path}[{i}]")
    else:
        assert isinstance(value, str), f"{path} is {type(value).__name__}: {value!r}"
