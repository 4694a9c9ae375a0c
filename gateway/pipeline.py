"""The one path an action takes: parse -> authenticate -> admit -> arguments -> service -> render.

``serve`` (:meth:`gateway.dialects.base.Dialect.handle`), ``gateway translate``
and the benchmarks all call :func:`respond`; what differs between them is only
what they plug in: ``serve`` reads the HTTP request, authenticates the
credential and admits the action (permissions, rate limit); the tools run
without a credential.  Every GatewayError is answered in the dialect's own
shape; anything else propagates to the caller (serve logs it as a gateway bug).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.errors import GatewayError
from gateway.request_args import args_for
from gateway.service import GET_TICKET, Service

if TYPE_CHECKING:
    from gateway.dialects.base import Dialect, Inbound
    from gateway.mapping.loader import ActionSpec

Authenticate = Callable[[], Awaitable[None]]
Admit = Callable[["ActionSpec"], None]
OnError = Callable[[GatewayError], None]


async def respond(
    dialect: Dialect,
    service: Service,
    inbound: Inbound,
    *,
    authenticate: Authenticate | None = None,
    admit: Admit | None = None,
    on_error: OnError | None = None,
) -> web.Response:
    """The client's answer to one inbound action."""
    try:
        if authenticate is not None:
            await authenticate()
        spec = dialect.find_action(inbound)
        if admit is not None:
            admit(spec)
        if spec.unsupported:  # (most actions lose nothing: no call)
            dialect.refuse_lost_params(inbound, spec)
        args = args_for(spec, inbound.params)  # (the mapped parameters' model, reused for the same ones)
        render = spec.result
        if spec.operation == GET_TICKET and render is not None:
            # (the busiest read: rendered by the service, which may fuse the backend's parse into it)
            return dialect.success(inbound, spec, await service.ticket_body(args, render))  # type: ignore[arg-type]
        result = await service.run(spec.operation, args)
        return dialect.success(inbound, spec, render(result) if render is not None else {})
    except GatewayError as exc:
        if on_error is not None:
            on_error(exc)
        return dialect.error(inbound, exc)
