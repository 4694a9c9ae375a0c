"""``gateway check --backend``: what the backend offers, and how each dialect action is served.

Connects the way ``gateway serve`` would (same settings, same backend adapter;
with no backend configured, the embedded demo simulator), asks the backend
what it offers with requests that change nothing, and prints (INTERFACE
"Backends"):

    feature: yes|no|read-only           one line per feature
    DIALECT ACTION: full                 one line per dialect and action
    DIALECT ACTION: loss ID[,ID...]      (loss ids: gateway.losses)
    DIALECT ACTION: refused: REASON

Exit 0 when the backend answered and accepted the credential, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import aiohttp

from gateway import context
from gateway.app import State, build_backend, dialect_classes, zone_config
from gateway.backends.base import FEATURES, Backend
from gateway.errors import BackendAuthError, BackendError, GatewayError
from gateway.losses import is_known
from gateway.mapping.loader import ActionSpec, MappingSet, load_mappings
from gateway.settings import Settings
from gateway.store import MemoryStore

# a dialect parameter the gateway refuses, named by the loss it stands for
_PARAM_LOSSES: Mapping[str, str] = {
    "attachment": "attachments",
    "customfield": "custom-fields",
    "cc": "cc",
    "flag": "flag",
    "tag": "tags",
}


def action_line(dialect: str, action: str, spec: ActionSpec, backend: Backend) -> str:
    """``DIALECT ACTION: full | loss IDS | refused: REASON``."""
    verdict, details = backend.support(spec.operation)
    if verdict == "refused":
        return f"{dialect} {action}: refused: {details[0] if details else 'the backend cannot carry it out'}"
    losses = list(details) if verdict == "loss" else []
    for param in spec.unsupported:
        for stem, loss in _PARAM_LOSSES.items():
            if stem in param.lower() and loss not in losses:
                losses.append(loss)
    losses = [loss for loss in losses if is_known(loss)]
    return f"{dialect} {action}: loss {','.join(losses)}" if losses else f"{dialect} {action}: full"


def report(backend: Backend, mappings: MappingSet, settings: Settings) -> list[str]:
    caps = backend.capabilities()
    lines = [f"{feature}: {caps.features.get(feature, 'no')}" for feature in FEATURES]
    for name, cls in dialect_classes().items():
        vendor = mappings.get(cls.vendor)
        if vendor is None or not settings.dialect(name).enabled:
            continue
        for action in sorted(vendor.actions):
            lines.append(action_line(name, action, vendor.actions[action], backend))
    return lines


async def _check(settings: Settings, out: TextIO) -> int:
    mappings = load_mappings(settings.mappings, zone_config(settings))
    state = State(settings=settings, store=MemoryStore())
    sim_runner = None
    tmp: tempfile.TemporaryDirectory[str] | None = None
    try:
        if settings.backend.url:
            state.backend_url, state.backend_token = settings.backend.url, settings.backend.token or ""
        else:
            from gateway import pmp_sim

            tmp = tempfile.TemporaryDirectory()
            sim_runner, state.backend_url = await pmp_sim.start_simulator(
                db_path=Path(tmp.name) / "sim.sqlite3", token=pmp_sim.DEFAULT_TOKEN
            )
            state.backend_token = pmp_sim.DEFAULT_TOKEN
            print("note: no backend configured; checking the embedded demo simulator", file=sys.stderr)
        async with aiohttp.ClientSession() as session:
            state.session = session
            backend = build_backend(state, settings, mappings)
            token = context.begin(context.RequestContext(deadline=time.monotonic() + settings.backend.timeout))
            try:
                await backend.ping()
                await backend.discover()
            except BackendAuthError as exc:
                print(f"backend: {exc.message}", file=out)
                return 1
            except BackendError as exc:
                print(f"backend: {exc.message}", file=out)
                return 1
            except GatewayError as exc:  # e.g. a 403 on the cheapest read: the token may not read tickets
                print(f"backend: {exc.message}", file=out)
                return 1
            finally:
                context.end(token)
            for line in report(backend, mappings, settings):
                print(line, file=out)
            return 0
    finally:
        if sim_runner is not None:
            await sim_runner.cleanup()
        if tmp is not None:
            tmp.cleanup()


def check_backend(settings: Settings, out: TextIO = sys.stdout) -> int:
    return asyncio.run(_check(settings, out))
