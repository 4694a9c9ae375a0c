"""``POST /includes/api.php``: parameters, IP allow-list, authentication, permissions, dispatch.

Order of the checks, as WHMCS answers them: the IP allow-list (unless a valid ``accesskey`` is
sent) -> the credential (``Authentication Failed``, 403) -> the action (``Command Not Found``,
200) -> the credential's API role (``Invalid Permissions: API action "x" is not allowed``, 403).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiohttp.http_exceptions
from aiohttp import web

from . import clients, staff, tickets
from .common import ApiError, Call, Credential, Handler, Params
from .db import SimDB
from .wire import render

log = logging.getLogger("gateway.whmcs_sim")


@dataclass(frozen=True)
class Action:
    name: str
    handler: Handler
    writes: bool = False


_ACTIONS: tuple[Action, ...] = (
    Action("GetTickets", tickets.get_tickets),
    Action("GetTicket", tickets.get_ticket),
    Action("OpenTicket", tickets.open_ticket, writes=True),
    Action("UpdateTicket", tickets.update_ticket, writes=True),
    Action("DeleteTicket", tickets.delete_ticket, writes=True),
    Action("AddTicketReply", tickets.add_ticket_reply, writes=True),
    Action("AddTicketNote", tickets.add_ticket_note, writes=True),
    Action("GetTicketNotes", tickets.get_ticket_notes),
    Action("GetSupportDepartments", tickets.get_support_departments),
    Action("GetSupportStatuses", tickets.get_support_statuses),
    Action("GetTicketCounts", tickets.get_ticket_counts),
    Action("GetClients", clients.get_clients),
    Action("GetClientsDetails", clients.get_clients_details),
    Action("AddClient", clients.add_client, writes=True),
    Action("UpdateClient", clients.update_client, writes=True),
    Action("DeleteClient", clients.delete_client, writes=True),
    Action("GetContacts", clients.get_contacts),
    Action("AddContact", clients.add_contact, writes=True),
    Action("UpdateContact", clients.update_contact, writes=True),
    Action("GetAdminUsers", staff.get_admin_users),
)
#: WHMCS matches the action name without regard to case (reference 1.3).
ACTIONS: dict[str, Action] = {a.name.lower(): a for a in _ACTIONS}


@dataclass
class SimConfig:
    """Who may call and from where."""

    credentials: list[Credential]
    allowed_ips: frozenset[str] | None = None  # None = no allow-list (a local demo)
    access_key: str | None = None


@dataclass
class SimStats:
    """What reached the simulator: tests check that refused requests wrote nothing."""

    requests: int = 0
    writes: int = 0
    calls: deque[tuple[str, dict[str, str]]] = field(default_factory=lambda: deque(maxlen=1000))
    #: notification e-mails WHMCS would have sent (none when ``noemail`` is set): (action, what)
    emails: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=1000))


DB_KEY: web.AppKey[SimDB] = web.AppKey("whmcs_sim_db", SimDB)
CONFIG_KEY: web.AppKey[SimConfig] = web.AppKey("whmcs_sim_config", SimConfig)
STATS_KEY: web.AppKey[SimStats] = web.AppKey("whmcs_sim_stats", SimStats)

_SECRET_PARAMS = frozenset({"secret", "password", "accesskey", "password2"})


async def read_params(request: web.Request) -> Params:
    """Query string merged with the form body (url-encoded or multipart); the body wins.

    Like PHP's ``$_POST``, a body that is not a form (JSON, a broken multipart) adds nothing;
    bytes that are not UTF-8 become U+FFFD rather than failing the request.
    """
    values = {k: v for k, v in request.query.items()}
    if not request.can_read_body:
        return Params(values)
    if request.content_type.startswith("multipart/"):
        try:
            form = await request.post()
        except (ValueError, web.HTTPException, aiohttp.ClientError, aiohttp.http_exceptions.HttpProcessingError):
            return Params(values)
        values.update({k: v for k, v in form.items() if isinstance(v, str)})
    elif request.content_type in ("application/x-www-form-urlencoded", "application/octet-stream", ""):
        text = (await request.read()).decode("utf-8", "replace")
        values.update(urllib.parse.parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"))
    return Params(values)


def _error(message: str, responsetype: str, action: str = "", status: int = 200) -> web.Response:
    return render(action, {"result": "error", "message": message}, responsetype, status)


def _caller_ip(request: web.Request) -> str:
    return request.remote or ""


def _authenticate(db: SimDB, config: SimConfig, params: Params) -> tuple[dict[str, Any], Credential | None] | None:
    """The calling admin and its API credential (None for a legacy admin login); None = refused."""
    ident = params.text("identifier") or params.text("username")
    secret = params.text("secret") if params.has("identifier") else params.text("password")
    if not ident or not secret:
        return None
    for cred in config.credentials:
        if hmac.compare_digest(cred.identifier, ident) and hmac.compare_digest(cred.secret, secret):
            admin = db.admin(cred.admin_id) or {"id": cred.admin_id, "firstname": "API", "lastname": "User"}
            return admin, cred
    if params.has("identifier"):
        return None
    # Legacy admin login: username + md5 hex of that admin's password (never the md5 of an API secret).
    login = db.admin_by_username(ident)
    if login is None or int(login["disabled"]) or not login["password"]:
        return None
    digest = hashlib.md5(str(login["password"]).encode()).hexdigest()
    if hmac.compare_digest(digest, secret.strip().lower()):
        return login, None
    return None


def _admin_departments(admin: dict[str, Any], cred: Credential | None) -> frozenset[int] | None:
    if cred is not None and cred.departments is not None:
        return cred.departments
    raw = str(admin.get("supportdepts") or "")
    ids = {int(x) for x in raw.split(",") if x.strip().isdigit()}
    return frozenset(ids) if ids else None


async def handle(request: web.Request) -> web.StreamResponse:
    db, config, stats = request.app[DB_KEY], request.app[CONFIG_KEY], request.app[STATS_KEY]
    stats.requests += 1
    params = await read_params(request)
    fmt = params.text("responsetype").strip().lower()
    raw_action = params.text("action").strip()
    ip = _caller_ip(request)
    if config.allowed_ips is not None and ip not in config.allowed_ips:
        key = params.text("accesskey")
        if not (config.access_key and key and hmac.compare_digest(key, config.access_key)):
            return _error(f"Invalid IP {ip}", fmt, raw_action, 403)
    who = _authenticate(db, config, params)
    if who is None:
        return _error("Authentication Failed", fmt, raw_action, 403)
    admin, cred = who
    action = ACTIONS.get(raw_action.lower())
    if action is None:
        return _error("Command Not Found", fmt, raw_action)
    if cred is not None and cred.actions is not None and action.name.lower() not in {a.lower() for a in cred.actions}:
        return _error(f'Invalid Permissions: API action "{action.name.lower()}" is not allowed', fmt, raw_action, 403)
    call = Call(db=db, params=params, admin=admin, departments=_admin_departments(admin, cred))
    stats.calls.append((action.name, {k: v for k, v in params.values.items() if k not in _SECRET_PARAMS}))
    try:
        body = await action.handler(call)
    except ApiError as err:
        return _error(err.message, fmt, raw_action, err.status)
    except Exception:  # a bug in the simulator: answer like PHP would, never a trace
        log.exception("whmcs-sim action %s failed", action.name)
        return _error("An unexpected error occurred", fmt, raw_action, 500)
    if action.writes:
        stats.writes += 1
    stats.emails.extend((action.name, what) for what in call.emails)
    return render(raw_action, body, fmt)


def add_routes(app: web.Application) -> None:
    app.router.add_route("POST", "/includes/api.php", handle)
    # WHMCS's PHP also answers GET with the same parameters (the access-key page shows a URL form).
    app.router.add_route("GET", "/includes/api.php", handle)
