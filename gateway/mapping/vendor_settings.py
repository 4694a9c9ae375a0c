"""The ``settings:`` block of each vendor's mappings, typed.

Each vendor has a pydantic model; the loader validates the merged block against
it, so a mistyped key is a ``gateway check`` error at its ``file:line:col``
(naming the closest known key) instead of a setting silently ignored.  A vendor
without a model (a new one) gets :class:`VendorSettings`: its ``errors`` texts
are checked, other keys pass.

``errors`` maps an error code (``gateway.errors``: ``ticket_not_found``,
``requester_required``, ``auth`` ...) to the words the dialect answers with;
``{field}``, ``{kind}``, ``{grant}``, ``{ip}``, ``{action}``, ``{parameter}``
and ``{message}`` are filled from the error.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.mapping.source import Loc, LocDict, LocList, MappingError

PLACEHOLDERS = frozenset({"field", "kind", "grant", "ip", "action", "parameter", "message"})


def check_placeholders(texts: Mapping[str, str]) -> dict[str, str]:
    for code, text in texts.items():
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as exc:
            raise ValueError(f"{code}: {exc} (write {{{{ for a brace)") from None
        unknown = [n for n in names if n not in PLACEHOLDERS]
        if unknown:
            raise ValueError(f"{code}: unknown placeholder {{{unknown[0]}}} (known: {', '.join(sorted(PLACEHOLDERS))})")
    return dict(texts)


class VendorSettings(BaseModel):
    """What every vendor's settings may hold; unknown keys pass (a vendor with no model of its own)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    errors: dict[str, str] = Field(default_factory=dict)

    @field_validator("errors")
    @classmethod
    def _placeholders_known(cls, texts: dict[str, str]) -> dict[str, str]:
        return check_placeholders(texts)


class _Strict(VendorSettings):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WhmcsSettings(_Strict):
    version: str = "8.13.1"  # the version WHMCS's XML answers carry
    default_format: Literal["legacy", "json", "xml", "nvp"] = "legacy"
    # WHMCS as a backend: the statuses' colours before discovery reads GetSupportStatuses
    status_colors: dict[str, str] = Field(default_factory=dict)
    # WHMCS as a backend: the adapter's knobs and wire facts (read by gateway.backends.whmcs.api.Knobs)
    backend: dict[str, Any] = Field(default_factory=dict)


class ClientexecSettings(_Strict):
    pass


class ReadyDeskSettings(_Strict):
    default_format: Literal["xml", "json", "url"] = "xml"
    custom_fields: list[str] = Field(default_factory=list)


class PmpStatus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: int
    name: str
    color: str = ""


class PmpDepartment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: int
    name: str


class PmpSettings(_Strict):
    statuses: list[PmpStatus] = Field(default_factory=list)
    departments: list[PmpDepartment] | None = None
    ticket_update_columns: list[str] = Field(default_factory=list)
    customer_update_columns: list[str] = Field(default_factory=list)
    contact_update_columns: list[str] = Field(default_factory=list)
    ticket_row_aliases: dict[str, str] = Field(default_factory=dict)
    countries: dict[int, str] = Field(default_factory=dict)  # tblcountries id -> ISO 3166-1 alpha-2
    # runtime knobs of the adapter (defaults as before); see the README's settings table
    retry_backoff_seconds: float = Field(0.2, ge=0)
    retry_backoff_max_seconds: float = Field(2.0, ge=0)
    find_reserve_seconds: float = Field(2.0, ge=0)
    contact_fetch_concurrency: int = Field(8, ge=1)
    contacts_cache_seconds: float = Field(10, ge=0)
    learned_denial_seconds: float = Field(300, ge=0)  # a grant learned missing from a 403 (discovery)
    read_memo_size: int = Field(1024, ge=1)  # unchanged backend reads kept decoded
    conversation_memo_size: int = Field(256, ge=1)  # tickets whose parsed conversation is kept
    # lists (module 3.x page/per_page/sort/fields; gateway/backends/pmp_lists.py)
    ticket_header_fields: list[str] = Field(default_factory=list)
    list_page_size: int = Field(100, ge=1, le=100)
    header_concurrency: int = Field(4, ge=1)
    unpaged_page_limit: int = Field(200, ge=0)
    ticket_sort_columns: dict[str, str] = Field(default_factory=dict)
    page_memo_size: int = Field(8, ge=0)
    # the PMP dialect: module routes no canonical operation carries (501), and 3.x paging
    dialect_refused: dict[str, str] = Field(default_factory=dict)
    per_page_default: int = Field(25, ge=1, le=100)
    per_page_max: int = Field(100, ge=1, le=100)


MODELS: dict[str, type[VendorSettings]] = {
    "whmcs": WhmcsSettings,
    "clientexec": ClientexecSettings,
    "readydesk": ReadyDeskSettings,
    "pmp": PmpSettings,
}


def validate_settings(vendor: str, block: LocDict | None, errors: list[MappingError]) -> VendorSettings:
    """The vendor's typed settings; problems are appended to ``errors`` with their position."""
    model = MODELS.get(vendor, VendorSettings)
    raw: Mapping[str, Any] = block or {}
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        for problem in exc.errors():
            path = tuple(str(p) for p in problem.get("loc", ()))
            loc = _locate(block, path)
            dotted = ".".join(("settings", *path))
            message = str(problem.get("msg", "invalid value"))
            if problem.get("type") == "extra_forbidden":
                known = list(_known_keys(model, path[:-1]))
                close = difflib.get_close_matches(path[-1], known, n=1)
                message = f"unknown setting '{path[-1]}'" + (f" (did you mean '{close[0]}'?)" if close else "")
            errors.append(MappingError(loc, dotted, message.removeprefix("Value error, ")))
        return model()


def _known_keys(model: type[BaseModel], path: tuple[str, ...]) -> list[str]:
    current: type[BaseModel] | None = model
    for part in path:
        if current is None:
            return []
        if not part.isdigit():  # list positions stay on the item model
            field = current.model_fields.get(part)
            current = _model_in(field.annotation) if field is not None else None
    return list(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (``list[X] | None`` -> X)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _locate(block: Any, path: tuple[str, ...]) -> Loc:
    """The position of the deepest part of ``path`` the YAML holds."""
    loc = block.loc if isinstance(block, LocDict | LocList) else Loc("?", 0, 0)
    node = block
    for part in path:
        if isinstance(node, LocDict) and part in node:
            loc = node.loc_of(part)
            node = node[part]
        elif isinstance(node, LocList) and part.isdigit() and int(part) < len(node):
            loc = node.loc_of(int(part))
            node = node[int(part)]
        else:
            break
    return loc


def error_texts(settings: Any) -> dict[str, str]:
    """The ``errors`` texts of a vendor's settings (typed model or plain mapping)."""
    texts = getattr(settings, "errors", None)
    if texts is None and isinstance(settings, Mapping):
        texts = settings.get("errors")
    return {str(k): str(v) for k, v in (texts or {}).items() if not isinstance(v, dict)}
