"""Wire encoders shared by the dialects: JSON, XML elements, NVP, URL-delimited.

Small and dependency-light on purpose: these run once per response on the hot
path.  XML text is escaped (``&<>`` and CR, so a CRLF survives a conforming
parser) and characters XML 1.0 cannot carry are dropped.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import orjson

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;", '"': "&quot;"})
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]")


def json_bytes(value: Any) -> bytes:
    return orjson.dumps(value)


class SuccessBytes:
    """A dialect's success answer as bytes, kept for the last few result bodies by identity.

    An unchanged record renders to the very same body dict (the render memo,
    ``gateway.mapping.compiler.identity_memo``), so its envelope and JSON are the same bytes
    as last time.  The body is held while cached: its id cannot be reused meanwhile."""

    def __init__(self, encode: Callable[[Any], bytes], size: int = 64) -> None:
        self._encode = encode
        self._size = size
        self._cache: dict[int, tuple[Any, bytes]] = {}
        self._order: deque[int] = deque()  # keys oldest first (see compiler.identity_memo)

    def get(self, body: Any) -> bytes:
        key = id(body)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is body:
            return hit[1]
        out = self._encode(body)
        cache = self._cache
        if len(cache) >= self._size:
            del cache[self._order.popleft()]
        cache[key] = (body, out)
        self._order.append(key)
        return out


def xml_text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    text = value if isinstance(value, str) else str(value)
    if _XML_BAD.search(text):
        text = _XML_BAD.sub("", text)
    return text.translate(_XML_ESCAPES)


def xml_name(name: str) -> str:
    """A safe element name (custom field names become element names)."""
    cleaned = _NAME_BAD.sub("_", name) or "_"
    if not (cleaned[0].isalpha() or cleaned[0] == "_") or cleaned.lower().startswith("xml"):
        cleaned = "_" + cleaned
    return cleaned


def xml_elements(value: Mapping[str, Any], out: list[str], indent: str = "") -> None:
    """Dict -> elements.  ``{"k": [a, b]}`` repeats ``<k>``; nested dicts nest."""
    for key, item in value.items():
        name = xml_name(key)
        if isinstance(item, list | tuple):
            for entry in item:
                _xml_one(name, entry, out, indent)
        else:
            _xml_one(name, item, out, indent)


def _xml_one(name: str, item: Any, out: list[str], indent: str) -> None:
    if isinstance(item, Mapping):
        out.append(f"{indent}<{name}>")
        xml_elements(item, out, indent)
        out.append(f"{indent}</{name}>")
    elif isinstance(item, list | tuple):
        out.append(f"{indent}<{name}>")
        for entry in item:
            _xml_one(name, entry, out, indent)
        out.append(f"{indent}</{name}>")
    else:
        out.append(f"{indent}<{name}>{xml_text(item)}</{name}>")


def is_flat(value: Mapping[str, Any]) -> bool:
    return not any(isinstance(v, Mapping | list | tuple) for v in value.values())


def nvp_bytes(value: Mapping[str, Any]) -> bytes:
    """WHMCS's legacy ``key=value;key=value;`` (no escaping, as WHMCS does)."""
    return "".join(f"{k}={_nvp(v)};" for k, v in value.items()).encode()


def _nvp(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)
