"""``gateway serve | check | translate | pmp-sim | whmcs-sim`` (INTERFACE.md)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import multiprocess

from gateway import oplog
from gateway.app import DEMO_CLIENT, STATE, create_app, dialect_classes, reload, shape_protocol_error, zone_config
from gateway.mapping.loader import load_mappings
from gateway.mapping.source import MappingErrors
from gateway.oplog import setup_logging
from gateway.reloading import changed, load_chain, needs_restart, ssl_context, tls_files
from gateway.server import GatewayRunner
from gateway.settings import Settings, SettingsError, load_settings

log = logging.getLogger("gateway")

# flags a multi-process demo gives its workers: the label of the simulator the parent runs
EMBEDDED_FLAG = "_embedded_simulator"


def _serve_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the gateway")
    p.add_argument("--config", type=Path)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--backend-kind", dest="backend_kind", choices=("pmp", "whmcs"))
    p.add_argument("--backend-url", dest="backend_url")
    p.add_argument("--backend-token", dest="backend_token")
    p.add_argument("--backend-timeout", dest="backend_timeout", type=float)
    p.add_argument("--workers", type=int)
    p.add_argument("--mappings", type=Path)
    p.add_argument("--client", action="append", default=[], metavar="IDENTIFIER:SECRET")
    p.add_argument("--store", help="SQLite path or postgresql:// URL of the id store")
    p.add_argument("--data-dir", dest="data_dir", type=Path)
    p.add_argument("--tls-cert", dest="tls_cert", type=Path)
    p.add_argument("--tls-key", dest="tls_key", type=Path)
    p.add_argument("--metrics-port", dest="metrics_port", type=int)
    p.add_argument(
        "--env-file", dest="env_file", type=Path, help="NAME=value lines read as environment (SIGHUP re-reads)"
    )
    p.add_argument("--demo", action="store_true", default=None, help="allow the embedded demo simulator off loopback")


def _flags(ns: argparse.Namespace) -> dict[str, Any]:
    keys = (
        "host",
        "port",
        "backend_url",
        "backend_token",
        "backend_timeout",
        "workers",
        "mappings",
        "client",
        "store",
        "data_dir",
        "tls_cert",
        "tls_key",
        "metrics_port",
        "backend_kind",
        "env_file",
        "demo",
    )
    return {k: getattr(ns, k, None) for k in keys}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description="Helpdesk API translation gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    c = sub.add_parser("check", help="validate config and mapping files")
    c.add_argument("paths", nargs="*", type=Path)
    c.add_argument("--config", type=Path)
    c.add_argument("--mappings", type=Path)
    c.add_argument("--backend", action="store_true", help="connect and print what the backend offers, per action")
    c.add_argument("--backend-url", dest="backend_url")
    c.add_argument("--backend-token", dest="backend_token")
    c.add_argument("--backend-timeout", dest="backend_timeout", type=float)
    t = sub.add_parser("translate", help="run a request or a response through the mappings offline")
    t.add_argument("--dialect", required=True)
    t.add_argument("--action", required=True)
    mode = t.add_mutually_exclusive_group(required=True)
    mode.add_argument("--request", action="store_true")
    mode.add_argument("--response", action="store_true")
    t.add_argument("--format", dest="fmt")
    t.add_argument("--params", help="with --response: the client's parameters as a query string")
    t.add_argument("--backend-kind", dest="backend_kind", choices=("pmp", "whmcs"), default="pmp")
    t.add_argument("--config", type=Path)
    t.add_argument("--mappings", type=Path)
    t.add_argument("file", nargs="?", default="-")
    s = sub.add_parser(
        "pmp-sim",
        help="run the PMP simulator on its own (--module 2|3, --allow-table NAME, --record-id, --seed-tickets N)",
    )
    s.add_argument("rest", nargs=argparse.REMAINDER)
    m = sub.add_parser("migrate", help="copy a helpdesk between backends (gateway migrate --help)")
    m.add_argument("rest", nargs=argparse.REMAINDER)
    w = sub.add_parser("whmcs-sim", help="run the WHMCS API simulator on its own")
    w.add_argument("rest", nargs=argparse.REMAINDER)
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "pmp-sim":
        from gateway import pmp_sim

        return pmp_sim.main(argv[1:])
    if argv and argv[0] == "migrate":
        from gateway.migrate.command import main as migrate_main

        return migrate_main(argv[1:])
    if argv and argv[0] == "whmcs-sim":
        from gateway import whmcs_sim

        return whmcs_sim.main(argv[1:])
    ns = parser.parse_args(argv)
    try:
        if ns.command == "serve":
            setup_logging("info")  # warnings while loading the settings are JSON lines too
            return serve(load_settings(ns.config, _flags(ns)), ns.config, _flags(ns))
        if ns.command == "check" and ns.backend:
            from gateway.check_backend import check_backend

            return check_backend(load_settings(ns.config, _flags(ns)))
        if ns.command == "check":
            return check(ns.paths, ns.config, ns.mappings)
        if ns.command == "translate":
            from gateway.translate import translate

            return translate(ns)
    except SettingsError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    return 2


# ------------------------------------------------------------------ check


def check(paths: list[Path], config: Path | None, mappings: Path | None) -> int:
    """Exactly the server's loader; one ``FILE:LINE:COL: field.path: message`` line per problem."""
    problems: list[str] = []
    settings: Settings | None = None
    config_files = [p for p in paths if p.is_file() and p.suffix in (".yaml", ".yml") and _is_config(p)]
    mapping_dirs = [p for p in paths if p.is_dir()]
    loose_mapping_files = [p for p in paths if p.is_file() and p not in config_files]
    try:
        settings = load_settings(config or (config_files[0] if config_files else None), {"mappings": mappings})
    except SettingsError as exc:
        problems.extend(str(exc).splitlines())
    if settings is not None:
        try:
            ssl_context(settings)
        except SettingsError as exc:
            problems.append(str(exc))
    overlay = mappings or (settings.mappings if settings else None)
    roots: list[Path | None] = list(mapping_dirs) or [overlay]
    zones = zone_config(settings) if settings else None
    try:
        for root in roots:
            overridden = load_mappings(root, zones).overrides
            print("\n".join(f"overlay: {o}" for o in overridden), end="\n" if overridden else "")
        for file in loose_mapping_files:
            _check_file(file, zones)
    except MappingErrors as exc:
        problems.extend(str(e) for e in exc.errors)
    for line in problems:
        print(line)
    if problems:
        return 1
    print("ok: config and mappings load")
    return 0


def _is_config(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8")[:4000]
    except OSError:
        return False
    return any(
        line.startswith(k)
        for line in head.splitlines()
        for k in ("backend:", "clients:", "dialects:", "host:", "port:", "tls_cert:", "index:")
    )


def _check_file(path: Path, zones: Any) -> None:
    """A single mapping file, checked as part of its vendor (its parent directory's name)."""
    import shutil
    import tempfile

    from gateway.mapping.loader import PACKAGED_ROOT

    with tempfile.TemporaryDirectory() as tmp:
        vendor_dir = Path(tmp) / path.resolve().parent.name
        vendor_dir.mkdir()
        shutil.copy(path, vendor_dir / path.name)
        try:
            load_mappings(Path(tmp), zones)
        except MappingErrors as exc:
            fixed = [
                type(e)(type(e.loc)(str(path), e.loc.line, e.loc.col), e.path, e.message)
                if str(e.loc.file).endswith(path.name) and str(PACKAGED_ROOT) not in str(e.loc.file)
                else e
                for e in exc.errors
            ]
            raise MappingErrors(fixed) from None


# ------------------------------------------------------------------ serve


def steady_gc() -> None:
    """What start-up built (mappings, compiled code, tables) lives as long as the process: keep
    it out of the collector's way, and collect the young generation less often.  (Called once
    serving starts; ``bench.translate_bench`` calls it too, to time requests as ``serve`` runs them.)"""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _banner(settings: Settings, app: web.Application, tls: bool) -> None:
    """One JSON line once the port accepts: where each dialect listens, the backend, the demo credentials."""
    state = app[STATE]
    base = f"{'https' if tls else 'http'}://{settings.host}:{settings.port}"
    fields: dict[str, Any] = {"url": base, "pid": os.getpid(), "backend": state.backend_label}
    if settings.embedded_backend:
        fields["backend_url"] = state.backend_url
        fields["data_dir"] = str(settings.data_dir)
        fields["demo_credentials"] = f"{DEMO_CLIENT.identifier}:{DEMO_CLIENT.secret}"
        fields["try"] = (
            f"curl -s {base}/includes/api.php -d action=GetTickets -d identifier={DEMO_CLIENT.identifier}"
            f" -d secret={DEMO_CLIENT.secret} -d responsetype=json"
        )
    fields["clients"] = [cred.identifier for cred in settings.clients]
    fields["dialects"] = {
        name: base + (d.prefix if d.prefix is not None else cls.default_prefix) + cls.example_path
        for name, cls in dialect_classes().items()
        if (d := settings.dialect(name)).enabled
    }
    fields.update(health=f"{base}/healthz", ready=f"{base}/readyz", metrics=f"{base}/metrics")
    oplog.event("listening", f"gateway listening on {base}, backend: {state.backend_label}", **fields)


def _refuse_public_demo(settings: Settings) -> None:
    if settings.embedded_backend and not settings.loopback and not settings.demo:
        raise SettingsError(
            f"no backend configured: give --backend-url and --backend-token (or backend.url in --config); "
            f"the embedded demo simulator serves only on a loopback address unless --demo is given "
            f"(host is {settings.host})"
        )


def _check_port_free(settings: Settings) -> None:
    """A port already in use is a one-line error naming the address, before anything starts."""
    for port in (settings.port, settings.metrics_port):
        if not port:
            continue
        try:
            infos = socket.getaddrinfo(settings.host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        except socket.gaierror as exc:
            raise SettingsError(f"cannot listen on {settings.host}:{port}: {exc.strerror}") from None
        family, kind, proto, _, addr = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(addr)
            except OSError as exc:
                raise SettingsError(f"cannot listen on {settings.host}:{port}: {exc.strerror}") from None


def serve(settings: Settings, config: Path | None, flags: dict[str, Any]) -> int:
    setup_logging(settings.log_level)
    _refuse_public_demo(settings)
    ssl_context(settings)  # fail on missing or broken TLS files before forking
    _check_port_free(settings)
    oplog.event(
        "starting", f"backend: {settings.backend_name}", backend=settings.backend_name, demo=settings.embedded_backend
    )
    if settings.workers > 1:
        return _serve_workers(settings, config, flags)
    return _serve_one(settings, config, flags, reuse_port=False)


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    uvloop.install()


def _serve_one(settings: Settings, config: Path | None, flags: dict[str, Any], reuse_port: bool) -> int:
    _install_uvloop()
    return asyncio.run(_serve_async(settings, config, flags, reuse_port))


async def _serve_async(settings: Settings, config: Path | None, flags: dict[str, Any], reuse_port: bool) -> int:
    """Listen, print the banner once the port accepts, then wait for SIGTERM/SIGINT (drain) or SIGHUP (reload)."""
    app = create_app(settings)
    if flags.get(EMBEDDED_FLAG):  # a worker in front of the demo simulator its parent started
        app[STATE].backend_label = str(flags[EMBEDDED_FLAG])
    tls = ssl_context(settings)
    runner = GatewayRunner(app, access_log=None, handle_signals=False, shape_error=shape_protocol_error(app))
    await runner.setup()
    site = web.TCPSite(
        runner,
        settings.host,
        settings.port,
        ssl_context=tls,
        reuse_port=reuse_port or None,
        shutdown_timeout=settings.backend.timeout,
    )
    try:
        try:
            await site.start()
        except OSError as exc:
            raise SettingsError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
        # handlers before the banner: whoever waits for the banner may signal at once
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if hasattr(signal, "SIGHUP"):
            loop.add_signal_handler(signal.SIGHUP, _reload, app, config, flags, tls)
        steady_gc()
        _banner(settings, app, tls is not None)
        await stop.wait()
    finally:
        # stops accepting, lets in-flight requests finish (up to the backend timeout), then closes
        await runner.cleanup()
    return 0


def _reload(app: web.Application, config: Path | None, flags: dict[str, Any], tls: ssl.SSLContext | None) -> None:
    """Config file, env file, mappings and TLS certificates again; what needs a restart is named."""
    old = app[STATE].settings
    try:
        settings = load_settings(config, flags)
        files = tls_files(settings)
        reload(app, settings)
    except (SettingsError, MappingErrors) as exc:
        oplog.event(
            "reload_failed",
            "reload failed, keeping the running config and mappings",
            logging.ERROR,
            errors=str(exc).splitlines(),
        )
        return
    rotated = False
    if tls is not None and files is not None:
        try:
            load_chain(tls, *files)
            rotated = True
        except SettingsError as exc:
            oplog.event("reload_failed", f"TLS certificates not reloaded, keeping the old ones: {exc}", logging.ERROR)
    logging.getLogger().setLevel(getattr(logging, settings.log_level.upper()))
    restart = needs_restart(old, settings)
    oplog.event(
        "reloaded",
        "reloaded config, env file and mappings"
        + (" and TLS certificates" if rotated else "")
        + (f"; needs a restart to apply: {', '.join(restart)}" if restart else ""),
        changed=changed(old, settings),
        tls_rotated=rotated,
        needs_restart=restart,
    )


def _serve_workers(settings: Settings, config: Path | None, flags: dict[str, Any]) -> int:
    """N processes on one listening socket (SO_REUSEPORT); the embedded simulator runs once, here."""
    sim_proc: multiprocessing.Process | None = None
    if settings.embedded_backend and getattr(settings.backend, "kind", "pmp") == "whmcs":
        sim_proc, flags = _whmcs_sim_process(settings, flags)
        sim_proc.start()
        settings = load_settings(config, flags)
    elif settings.embedded_backend:
        from gateway import pmp_sim

        port = _free_port()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        sim_proc = multiprocessing.Process(
            target=_demo_simulator, args=(port, settings.data_dir / "pmp-sim.sqlite3"), daemon=True
        )
        sim_proc.start()
        flags = {
            **flags,
            "backend_url": f"http://127.0.0.1:{port}/",
            "backend_token": pmp_sim.DEFAULT_TOKEN,
            "client": [*(flags.get("client") or []), f"{DEMO_CLIENT.identifier}:{DEMO_CLIENT.secret}"],
            EMBEDDED_FLAG: f"demo: embedded {settings.backend.kind} simulator at http://127.0.0.1:{port}/",
        }
        settings = load_settings(config, flags)
    metrics_dir = _multiprocess_metrics_dir()
    # spawned, not forked: each worker imports prometheus_client afresh, in multiprocess mode
    spawn = multiprocessing.get_context("spawn")
    procs = [spawn.Process(target=_worker, args=(config, flags), daemon=False) for _ in range(settings.workers)]
    if hasattr(signal, "SIGHUP"):
        # ignored until each worker installs its reload handler (an ignored signal stays ignored
        # across exec): a reload sent while workers start must not kill them
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for p in procs:
        p.start()

    def stop(signum: int, frame: Any) -> None:
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, stop)
    for p in procs:
        p.join()
        if p.pid:
            multiprocess.mark_process_dead(p.pid, str(metrics_dir))  # type: ignore[no-untyped-call]
    if metrics_dir.name.startswith(_METRICS_TMP_PREFIX):
        shutil.rmtree(metrics_dir, ignore_errors=True)
    if sim_proc is not None:
        sim_proc.terminate()
        sim_proc.join(5)
    return 0


def _whmcs_sim_process(settings: Settings, flags: dict[str, Any]) -> tuple[multiprocessing.Process, dict[str, Any]]:
    """The embedded WHMCS simulator in a process of its own, for N workers; the flags that point at it."""
    try:
        from gateway import whmcs_sim  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        raise SettingsError("the embedded WHMCS simulator is not available: give --backend-url") from None
    port = _free_port()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ident, secret = whmcs_sim.DEFAULT_IDENTIFIER, whmcs_sim.DEFAULT_SECRET
    argv = ["--port", str(port), "--db", str(settings.data_dir / "whmcs-sim.sqlite3")]
    proc = multiprocessing.Process(
        target=whmcs_sim.main, args=([*argv, "--identifier", ident, "--secret", secret],), daemon=True
    )
    flags = {
        **flags,
        "backend_url": f"http://127.0.0.1:{port}/",
        "backend_token": f"{ident}:{secret}",
        "client": [*(flags.get("client") or []), f"{DEMO_CLIENT.identifier}:{DEMO_CLIENT.secret}"],
        EMBEDDED_FLAG: f"demo: embedded whmcs simulator at http://127.0.0.1:{port}/",
    }
    return proc, flags


_METRICS_TMP_PREFIX = "gateway-metrics-"


def _demo_simulator(port: int, db: Path) -> None:
    """The workers' shared demo simulator (quiet: the workers' banners name it)."""
    from gateway import pmp_sim

    async def run() -> None:
        runner, _ = await pmp_sim.start_simulator("127.0.0.1", port, db_path=db, token=pmp_sim.DEFAULT_TOKEN)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())


def _multiprocess_metrics_dir() -> Path:
    """Where the workers' counters meet (prometheus-client multiprocess mode), empty at start.

    An operator's ``PROMETHEUS_MULTIPROC_DIR`` is used (its old files removed), else a
    fresh temporary folder for this run, removed at exit."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.db"):
            old.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix=_METRICS_TMP_PREFIX))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def _worker(config: Path | None, flags: dict[str, Any]) -> None:
    settings = load_settings(config, flags)  # settings.workers stays N: this process serves, it does not fork
    setup_logging(settings.log_level)
    _serve_one(settings, config, flags, reuse_port=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    raise SystemExit(main())
