"""The one place that composes the gateway.

settings -> mappings -> backend -> service -> dialects -> routes.  Resources
that live as long as the app (the embedded simulator, the backend's shared
``ClientSession``, the store) are opened and closed by ``cleanup_ctx``; the
per-request objects sit in one :class:`Runtime` that a reload swaps whole.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.web_request import BaseRequest

from gateway import context
from gateway.auth import Credentials
from gateway.backends.base import Backend, Capabilities
from gateway.backends.guard import CircuitBreaker, GuardedBackend
from gateway.backends.keepalive import KeepAlive
from gateway.canonical import Department
from gateway.dialects.base import Dialect, Route
from gateway.errors import BackendAuthError, BackendError, GatewayError
from gateway.limits import RateLimiter
from gateway.mapping.loader import MappingSet, ZoneConfig, load_mappings
from gateway.metrics import Metrics
from gateway.middlewares import make_context_middleware
from gateway.prefixes import collisions
from gateway.runtime import Runtime
from gateway.server import GatewayRunner
from gateway.service import Service
from gateway.settings import ClientCredential, Settings, SettingsError
from gateway.store import Store, open_store

log = logging.getLogger("gateway")

DIALECT_MODULES = ("whmcs", "keliweb", "clientexec", "readydesk", "pmp")
DEMO_CLIENT = ClientCredential(identifier="demo", secret="demo-secret")


@dataclass
class State:
    """The app's mutable slots, behind one AppKey."""

    settings: Settings
    runtime: Runtime | None = None
    session: aiohttp.ClientSession | None = None
    keepalive: KeepAlive | None = None  # the backend's reads (the session carries the rest)
    store: Store | None = None
    backend_url: str = ""
    backend_token: str = ""
    metrics: Metrics = field(default_factory=Metrics)
    sim_runner: web.AppRunner | None = None
    breaker: CircuitBreaker | None = None
    sim_departments: tuple[Department, ...] | None = None  # the embedded simulator's, known exactly
    backend_label: str = ""  # the backend in use, as the banner and /readyz name it
    legacy_ids: Any = None  # (IdMap, target vendor) when the store journals a migration ("Legacy ids")
    background: set[asyncio.Task[None]] = field(default_factory=set)  # e.g. discovery after a reload


STATE = web.AppKey("gateway_state", State)


def dialect_classes() -> dict[str, type[Dialect]]:
    classes: dict[str, type[Dialect]] = {}
    for name in DIALECT_MODULES:
        try:
            module = importlib.import_module(f"gateway.dialects.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"gateway.dialects.{name}":
                continue
            raise
        cls: type[Dialect] = module.DIALECT
        classes[cls.name] = cls
    return classes


def zone_config(settings: Settings) -> ZoneConfig:
    return ZoneConfig(
        backend=settings.backend.zone,
        display={n: d.display_zone for n, d in settings.dialects.items() if d.display_zone},
    )


def effective_clients(settings: Settings) -> tuple[ClientCredential, ...]:
    if settings.embedded_backend:
        return (DEMO_CLIENT, *settings.clients)
    if not settings.clients:
        raise SettingsError("with a real backend at least one --client IDENTIFIER:SECRET is required")
    return settings.clients


def _adapter(state: State, settings: Settings, mappings: MappingSet) -> Backend:
    """The backend adapter that ``backend.kind`` names."""
    assert state.session is not None and state.store is not None
    if getattr(settings.backend, "kind", "pmp") == "whmcs":
        from gateway.backends.whmcs import WhmcsBackend

        return WhmcsBackend(
            state.backend_url,
            state.backend_token,
            mappings["whmcs"],
            state.store,
            session=state.session,
            connect_timeout=settings.backend.connect_timeout,
            accesskey=getattr(settings.backend, "accesskey", None),
            retries=settings.backend.retries,
            features=getattr(settings.backend, "features", None),
        )
    from gateway.backends.pmp import PMPBackend

    return PMPBackend(
        state.backend_url,
        state.backend_token,
        mappings["pmp"],
        state.store,
        session=state.session,
        keepalive=state.keepalive,
        connect_timeout=settings.backend.connect_timeout,
        departments=state.sim_departments,
        retries=settings.backend.retries,
        features=_feature_pins(settings),
    )


def build_backend(state: State, settings: Settings, mappings: MappingSet) -> Backend:
    pmp = _adapter(state, settings, mappings)
    if state.breaker is None:
        state.breaker = CircuitBreaker(settings.backend.breaker_failures, settings.backend.breaker_reset, state.metrics)
    return GuardedBackend(
        pmp,
        state.breaker,
        ttl=settings.cache.ttl,
        size=settings.cache.size,
        cache_tickets=settings.cache.tickets,
        metrics=state.metrics,
    )


def index_staleness(settings: Settings) -> float:
    """``index.max_staleness`` (INTERFACE "Freshness"; default 5 s, 0: always read the backend)."""
    index = getattr(settings, "index", None)
    value = getattr(index, "max_staleness", None)
    return 5.0 if value is None else float(value)


def _feature_pins(settings: Settings) -> dict[str, str]:
    """``backend.features``: feature -> yes|no|read-only|auto."""
    return {str(k): str(v) for k, v in settings.backend.features.items()}


async def _discover_with_retries(backend: Backend, attempts: int = 3) -> Capabilities:
    """A flaky moment at start-up should not leave the gateway on the least features until later."""
    for attempt in range(1, attempts + 1):
        try:
            return await backend.discover()
        except BackendAuthError:
            raise
        except BackendError:
            if attempt == attempts or context.current().remaining() < 2.0:
                raise
            await asyncio.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


async def discover_backend(runtime: Runtime) -> None:
    """Start-up and SIGHUP: find out what the backend offers, in one log line (never fatal)."""
    backend = runtime.service.backend
    token = context.begin(context.RequestContext(deadline=time.monotonic() + runtime.settings.backend.timeout))
    try:
        caps = await _discover_with_retries(backend)
    except GatewayError as exc:  # a refused probe (a role without a grant) is not fatal either
        log.warning("backend discovery failed (%s); assuming the least and asking again later", exc.message)
        return
    finally:
        context.end(token)
    features = ", ".join(f"{k}={v}" for k, v in caps.features.items())
    generation = f" module {caps.generation}.x" if caps.generation else ""
    log.info("backend %s%s offers: %s", caps.kind, generation, features)


def with_legacy_ids(state: State, backend: Backend) -> Backend:
    """After a migration: legacy ids for every dialect but the target vendor's own (INTERFACE "Legacy ids")."""
    if state.legacy_ids is None:
        return backend
    from gateway.migrate.legacy import LegacyIds

    ids, target_vendor = state.legacy_ids
    native = [name for name, cls in dialect_classes().items() if cls.vendor == target_vendor]
    return LegacyIds(backend, ids, native)


def build_runtime(state: State, settings: Settings) -> Runtime:
    """Everything a request needs; raises MappingErrors / SettingsError without side effects."""
    mappings = load_mappings(settings.mappings, zone_config(settings), state.metrics.on_unmapped)
    backend = with_legacy_ids(state, build_backend(state, settings, mappings))
    assert state.store is not None
    dialects: dict[str, Dialect] = {}
    for name, cls in dialect_classes().items():
        dsettings = settings.dialect(name)
        if dsettings.enabled and mappings.get(cls.vendor) is not None:
            dialect = cls(dsettings, mappings[cls.vendor])
            dialect.max_body = settings.limits.max_body_bytes
            dialects[name] = dialect
    return Runtime(
        settings=settings,
        mappings=mappings,
        service=Service(backend, state.store, max_staleness=index_staleness(settings)),
        credentials=Credentials(effective_clients(settings)),
        limiter=RateLimiter(settings.limits.rate_per_second, settings.limits.rate_burst),
        metrics=state.metrics,
        dialects=dialects,
    )


async def _resources(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    settings = state.settings
    state.store = await open_store(settings.store_url)
    from gateway.migrate.legacy import load_for_serve

    state.legacy_ids = await load_for_serve(settings.store_url)
    admin: web.AppRunner | None = None
    try:
        if settings.embedded_backend and getattr(settings.backend, "kind", "pmp") == "whmcs":
            state.sim_runner, state.backend_url, state.backend_token = await _start_whmcs_sim(settings)
            state.backend_label = state.backend_label or f"{settings.backend_name} at {state.backend_url}"
        elif settings.embedded_backend:
            from gateway import pmp_sim

            settings.data_dir.mkdir(parents=True, exist_ok=True)
            state.sim_runner, state.backend_url = await pmp_sim.start_simulator(
                "127.0.0.1", 0, db_path=settings.data_dir / "pmp-sim.sqlite3", token=pmp_sim.DEFAULT_TOKEN
            )
            state.backend_token = pmp_sim.DEFAULT_TOKEN
            db = state.sim_runner.app[pmp_sim.DB_KEY]
            state.sim_departments = tuple(Department(id=i, name=n) for i, n in db.list_departments())
            state.backend_label = state.backend_label or f"{settings.backend_name} at {state.backend_url}"
        else:
            state.backend_url = settings.backend.url or ""
            state.backend_token = settings.backend.token or ""
            state.backend_label = state.backend_label or settings.backend_name
        connector = aiohttp.TCPConnector(limit=settings.backend.max_concurrency, ttl_dns_cache=300)
        state.session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
        state.keepalive = KeepAlive(limit=settings.backend.max_concurrency)
        state.runtime = build_runtime(state, settings)
        await discover_backend(state.runtime)
        if settings.metrics_port is not None:
            admin = await _start_admin(state, settings)
        yield
    finally:
        if state.runtime is not None:
            await state.runtime.service.index.close()
        if admin is not None:
            await admin.cleanup()
        if state.session is not None:
            await state.session.close()
        if state.keepalive is not None:
            await state.keepalive.close()
        await state.store.close()
        if state.legacy_ids is not None:
            await state.legacy_ids[0].close()
        if state.sim_runner is not None:
            await state.sim_runner.cleanup()


async def _start_whmcs_sim(settings: Settings) -> tuple[web.AppRunner, str, str]:
    """The embedded WHMCS simulator (``--backend-kind whmcs`` with no URL): runner, root URL, token."""
    try:
        from gateway import whmcs_sim  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        raise SettingsError("the embedded WHMCS simulator is not available: give --backend-url") from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runner, url = await whmcs_sim.start_simulator("127.0.0.1", 0, db_path=settings.data_dir / "whmcs-sim.sqlite3")
    return runner, url, f"{whmcs_sim.DEFAULT_IDENTIFIER}:{whmcs_sim.DEFAULT_SECRET}"


async def _start_admin(state: State, settings: Settings) -> web.AppRunner:
    """``/metrics`` (and health) on a separate admin port, e.g. one not exposed to clients."""
    admin = web.Application()
    admin[STATE] = state
    admin.router.add_get("/metrics", metrics)
    admin.router.add_get("/healthz", healthz)
    runner = GatewayRunner(admin, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.metrics_port, reuse_port=True).start()
    return runner


def shape_protocol_error(app: web.Application) -> Callable[[BaseRequest, int], web.StreamResponse | None]:
    """For the server: a request aiohttp could not parse, answered in its path's dialect."""

    def shape(request: BaseRequest, status: int) -> web.StreamResponse | None:
        runtime = app[STATE].runtime
        if runtime is None:
            return None
        dialect = claiming_dialect(runtime.dialects.values(), request.path)
        return dialect.protocol_error(request.query, status) if dialect is not None else None

    return shape


def claiming_dialect(dialects: Iterable[Dialect], path: str) -> Dialect | None:
    """The dialect whose prefix holds ``path`` most specifically, if any."""
    best = max(dialects, key=lambda d: d.claim(path), default=None)
    return best if best is not None and best.claim(path) > 0 else None


async def unrouted(request: web.Request) -> web.StreamResponse:
    """No route took the request: under a dialect's prefix, that dialect's own answer."""
    runtime = request.app[STATE].runtime
    dialect = claiming_dialect(runtime.dialects.values(), request.path) if runtime is not None else None
    if dialect is None or runtime is None:
        raise web.HTTPNotFound()
    return dialect.unrouted(request, runtime)


def reload(app: web.Application, settings: Settings) -> None:
    """Swap in new config and mappings; on any error the old runtime stays (and the error is raised)."""
    state = app[STATE]
    previous = (state.backend_url, state.backend_token)
    if not state.settings.embedded_backend and not settings.embedded_backend:
        # a real backend's URL and token are the settings' (the embedded simulator's stay as started)
        state.backend_url, state.backend_token = settings.backend.url or "", settings.backend.token or ""
    try:
        runtime = build_runtime(state, settings)
    except Exception:
        state.backend_url, state.backend_token = previous
        raise
    state.settings = settings
    state.runtime = runtime
    # the new backend asks again what the installation offers (in the background: reload is synchronous;
    # without a running loop the backend discovers on first use)
    try:
        task = asyncio.get_running_loop().create_task(discover_backend(runtime))
    except RuntimeError:
        return
    state.background.add(task)
    task.add_done_callback(state.background.discard)


def _dialect_handler(name: str, route: Route) -> Any:
    # a plain function handing back the dialect's coroutine (the context middleware awaits it):
    # one coroutine layer fewer on every request
    def handler(request: web.Request) -> Awaitable[web.StreamResponse]:
        runtime = request.app[STATE].runtime
        if runtime is None or name not in runtime.dialects:
            raise web.HTTPNotFound()
        return runtime.dialects[name].handle(request, route, runtime)

    return handler


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    runtime = state.runtime
    backend = state.backend_label
    if runtime is None:
        return web.json_response({"status": "starting", "backend": backend}, status=503)
    try:
        await runtime.service.backend.ping()
    except BackendError as exc:
        return web.json_response({"status": "unavailable", "reason": exc.message, "backend": backend}, status=503)
    # what the backend offers now (discovery, and what a refused request taught it since)
    features = dict(runtime.service.backend.capabilities().features)
    return web.json_response({"status": "ready", "backend": backend, "features": features})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[STATE].metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def dialect_routes(settings: Settings) -> dict[str, list[Route]]:
    """Each enabled dialect's routes under its configured prefix."""
    served: dict[str, list[Route]] = {}
    for name, cls in dialect_classes().items():
        dsettings = settings.dialect(name)
        if dsettings.enabled:
            prefix = (dsettings.prefix if dsettings.prefix is not None else cls.default_prefix).rstrip("/")
            served[name] = cls.routes_for(prefix)
    return served


def _known_secrets(state: State) -> tuple[str, ...]:
    """What must never appear in a log line: every configured client secret and the backend token."""
    settings = state.settings
    values = [c.secret for c in settings.clients] + [DEMO_CLIENT.secret, state.backend_token]
    values += [settings.backend.token or "", settings.backend.accesskey or ""]
    return tuple(v for v in values if v)


def _known_secrets_memo(state: State) -> Callable[[], tuple[str, ...]]:
    """``_known_secrets`` recomputed only when the settings or the backend token change (a reload):
    the middleware asks on every request."""
    last: list[Any] = [None, None, ()]

    def known() -> tuple[str, ...]:
        if last[0] is not state.settings or last[1] != state.backend_token:
            last[:] = [state.settings, state.backend_token, _known_secrets(state)]
        secrets_now: tuple[str, ...] = last[2]
        return secrets_now

    return known


def create_app(settings: Settings) -> web.Application:
    effective_clients(settings)  # fail fast: a real backend needs --client
    state = State(settings=settings)
    # (attrgetters: C calls, read afresh on every request so that a reload takes effect)
    middleware = make_context_middleware(
        partial(attrgetter("settings.backend.timeout"), state),
        partial(attrgetter("metrics"), state),
        settings.access_log,
        known_secrets=_known_secrets_memo(state),
    )
    app = web.Application(client_max_size=settings.limits.max_body_bytes)
    app[STATE] = state
    app.cleanup_ctx.append(_resources)
    served = dialect_routes(settings)
    clashes = collisions(served)
    if clashes:
        raise SettingsError("dialect prefixes collide: " + "; ".join(clashes))
    # every route runs inside the context middleware; applied to the handlers rather than as an
    # app middleware (the catch-all route below leaves nothing unrouted), which spares aiohttp's
    # middleware chain its own layers on every request
    for name, routes in served.items():
        for route in routes:
            app.router.add_route(route.method, route.path, _in_context(middleware, _dialect_handler(name, route)))
    app.router.add_get("/healthz", _in_context(middleware, healthz))
    app.router.add_get("/readyz", _in_context(middleware, readyz))
    app.router.add_get("/metrics", _in_context(middleware, metrics))
    # last: whatever no route above took (a path a {placeholder} refuses, another method)
    app.router.add_route("*", "/{unrouted:.*}", _in_context(middleware, unrouted))
    return app


def _in_context(middleware: Any, handler: Any) -> Any:
    async def run(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await middleware(request, handler)
        return response

    return run
