"""WHMCS's three answer formats (reference 1.5, 1.6): JSON, the ``<whmcsapi>`` XML envelope, NVP.

With no ``responsetype`` WHMCS answers in its legacy formats: NVP (``k=v;k=v;``) for flat results
and XML for results holding nested lists.  ``responsetype=json`` is the only JSON answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from gateway.formats import is_flat, json_bytes, nvp_bytes, xml_elements

#: The version the XML root carries (the recorded real output the reference cites).
WHMCS_VERSION = "8.13.1"


def render(action: str, body: Mapping[str, Any], responsetype: str, status: int = 200) -> web.Response:
    """One answer in the asked format; ``responsetype`` is already lowercased ('' = none sent)."""
    if responsetype == "json":
        return web.Response(body=json_bytes(dict(body)), status=status, content_type="application/json")
    if responsetype == "xml" or (responsetype != "nvp" and not is_flat(body)):
        return web.Response(body=xml_bytes(action, body), status=status, content_type="application/xml")
    return web.Response(body=nvp_bytes(body), status=status, content_type="text/html", charset="utf-8")


def xml_bytes(action: str, body: Mapping[str, Any]) -> bytes:
    """``<whmcsapi version=..>``, ``<action>`` (lowercased) first, then the keys in JSON order."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', f'<whmcsapi version="{WHMCS_VERSION}">']
    if action:
        out.append(f"<action>{action.lower()}</action>")
    xml_elements(body, out)
    out.append("</whmcsapi>")
    return "\n".join(out).encode("utf-8")
