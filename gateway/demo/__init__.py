"""The demo data every embedded simulator seeds: one vendor-neutral file, ``data.yaml``.

The schema is written at the top of ``data.yaml``; :func:`load_demo` validates it (pydantic),
so a typo in the file fails loudly at start-up rather than as a missing ticket in a test.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "DemoAuthor",
    "DemoContact",
    "DemoCustomer",
    "DemoData",
    "DemoDepartment",
    "DemoNote",
    "DemoReply",
    "DemoStaff",
    "DemoTicket",
    "load_demo",
]

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def _check_datetime(value: str | None) -> str | None:
    if value is not None and not _DATETIME.fullmatch(value):
        raise ValueError(f"expected 'YYYY-MM-DD HH:MM:SS', got {value!r}")
    return value


class _Strict(BaseModel):
    # Unknown keys are mistakes in the file, not extensions: extensions are declared here.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DemoDepartment(_Strict):
    id: int
    name: str
    email: str


class DemoStaff(_Strict):
    id: int
    firstname: str
    lastname: str
    email: str
    username: str
    phone: str = ""
    admin: bool = False
    created_at: str = "2023-01-01 00:00:00"

    _dates = field_validator("created_at")(_check_datetime)


class DemoCustomer(_Strict):
    id: int
    company: str
    firstname: str
    lastname: str
    email: str
    phone: str
    address1: str
    address2: str
    city: str
    state: str
    postcode: str
    country: str = Field(pattern=r"^([A-Z]{2})?$")
    created_at: str
    vat: str = ""
    website: str = ""
    language: str = ""
    currency: str = ""
    billing_same_as_address: bool = False

    _dates = field_validator("created_at")(_check_datetime)


class DemoContact(_Strict):
    id: int
    customer_id: int
    is_primary: bool
    firstname: str
    lastname: str
    email: str
    phone: str
    title: str
    created_at: str
    active: bool = True

    _dates = field_validator("created_at")(_check_datetime)


class DemoAuthor(_Strict):
    kind: Literal["staff", "customer", "guest"]
    staff_id: int = 0
    customer_id: int = 0
    contact_id: int = 0
    name: str = ""
    email: str = ""


class DemoReply(_Strict):
    id: int
    author: DemoAuthor
    message: str
    created_at: str

    _dates = field_validator("created_at")(_check_datetime)


class DemoNote(_Strict):
    id: int
    staff_id: int
    message: str
    created_at: str

    _dates = field_validator("created_at")(_check_datetime)


class DemoTicket(_Strict):
    id: int
    key: str = Field(pattern=r"^[0-9a-f]{32}$")
    subject: str
    message: str
    department_id: int
    customer_id: int
    contact_id: int
    name: str = ""
    email: str = ""
    status: Literal["open", "in_progress", "answered", "on_hold", "closed"]
    priority: Literal["low", "medium", "high"]
    staff_id: int = 0
    assigned_staff_id: int = 0
    created_at: str
    last_reply_at: str | None = None
    cc: str | None = None
    tags: tuple[str, ...] = ()
    service_id: int | None = None
    client_read: bool = True
    admin_read: bool = False
    replies: tuple[DemoReply, ...] = ()
    notes: tuple[DemoNote, ...] = ()

    _dates = field_validator("created_at", "last_reply_at")(_check_datetime)


class DemoData(_Strict):
    departments: tuple[DemoDepartment, ...]
    staff: tuple[DemoStaff, ...]
    customers: tuple[DemoCustomer, ...]
    contacts: tuple[DemoContact, ...]
    tickets: tuple[DemoTicket, ...]


@lru_cache(maxsize=1)
def load_demo() -> DemoData:
    """The packaged demo data (parsed once; the model is immutable)."""
    text = resources.files(__package__).joinpath("data.yaml").read_text(encoding="utf-8")
    return DemoData.model_validate(yaml.safe_load(text))
