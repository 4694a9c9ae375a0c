"""The transforms a mapping may name, each a factory of a plain function.

A mapping writes ``transform: [int, "date:whmcs", "slice:0:8"]``; at load time
each name is looked up here and called once with its argument and the vendor's
compile context, giving a one-argument function that the compiler chains.
Adding a transform is adding one small function to ``TRANSFORMS``.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import quote_plus

from gateway.canonical import Priority, Status, Unmapped
from gateway.mapping.dates import DateFormatError, compile_formatter, compile_parser, memo_renderer

Fn = Callable[[Any], Any]
UnmappedHook = Callable[[str, str, str], None]  # vendor, enum name, value


class TransformArgError(ValueError):
    """The argument a mapping gave a transform is wrong (reported at load time)."""


@dataclass(frozen=True)
class EnumTable:
    name: str
    canonical: type[Status] | type[Priority] | None
    to_canonical: Mapping[str, Any]  # vendor text (case-folded) -> canonical value or frozenset
    to_vendor: Mapping[Any, str]
    unmapped: str | None  # None: pass the value through visibly


@dataclass(frozen=True)
class DateSpec:
    name: str
    format: str
    zone: str  # "backend", "display" or an IANA name


@dataclass
class CompileContext:
    vendor: str
    direction: str  # "parse" (vendor -> canonical) or "render" (canonical -> vendor)
    enums: Mapping[str, EnumTable]
    dates: Mapping[str, DateSpec]
    zones: Callable[[str], tzinfo | None]
    on_unmapped: UnmappedHook = field(default=lambda vendor, enum, value: None)


Factory = Callable[[str | None, CompileContext], Fn]

# Render transforms the compiler may spell out in the generated code (their common case, with
# the function itself called for the rest): function -> (kind, what the inline code reads).
# `enum`: its table (a value found there is the answer); `slice`: (start, stop) of a string.
INLINE: weakref.WeakKeyDictionary[Fn, tuple[str, Any]] = weakref.WeakKeyDictionary()


def _need(arg: str | None, name: str) -> str:
    if arg is None or arg == "":
        raise TransformArgError(f"transform '{name}' needs an argument ('{name}:...')")
    return arg


def to_str(value: Any) -> str:
    if type(value) is str:  # the common case first: vendors send strings
        return value
    if type(value) is int:  # then canonical ids (a bool is not of type int: it is below)
        return str(value)
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, Status | Priority):
        return value.value
    return str(value)


_INT = re.compile(r"[+-]?[0-9]{1,18}")


def to_int(value: Any) -> int:
    if type(value) is str and value.isdigit() and value.isascii() and len(value) <= 18:
        return int(value)  # the common case: a plain id in a string
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not _INT.fullmatch(text):
        raise ValueError(f"not an integer: {text[:40]!r}")
    return int(text)


#: digit texts already read as ints (ids repeat: a department's, a customer's, a staff member's)
INT_MEMO_SIZE = 4096
INT_TEXTS: dict[str, int] = {}


def digits_int(text: str) -> int:
    """``int(text)`` for a text of at most 18 ASCII digits, kept in ``INT_TEXTS`` (the compiler
    looks a text up there first; the memo is cleared whole when full)."""
    number = int(text)
    if len(INT_TEXTS) >= INT_MEMO_SIZE:
        INT_TEXTS.clear()
    INT_TEXTS[text] = number
    return number


MAX_OFFSET = 10**12  # past any list a backend can hold; keeps offsets inside 64 bits


def to_uint(value: Any) -> int:
    number = to_int(value)
    if number < 0:
        raise ValueError(f"negative: {number}")
    return number


def to_opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else to_int(value)


_TRUE = frozenset({"1", "true", "on", "yes", "y"})
_FALSE = frozenset({"0", "false", "off", "no", "n", ""})


def to_bool(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool | int):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text[:40]!r}")


def _simple(fn: Fn) -> Factory:
    def factory(arg: str | None, ctx: CompileContext) -> Fn:
        return fn

    return factory


def _date(arg: str | None, ctx: CompileContext) -> Fn:
    name = _need(arg, "date")
    spec = ctx.dates.get(name)
    if spec is None:
        raise TransformArgError(f"unknown date format '{name}'")
    zone = ctx.zones(spec.zone)
    if ctx.direction == "render":
        if zone is not None:
            return _date_renderer(spec.format, zone)
        fmt = compile_formatter(spec.format, zone)

        def render(value: Any) -> str:
            return fmt(value) if isinstance(value, datetime) else ""

        return render
    parse_ = compile_parser(spec.format, zone or ctx.zones("UTC") or _utc())
    # text -> the datetime it parsed to: datetimes are immutable, and the same texts come back
    # (a ticket's date is its opening message's; a list's rows repeat from page to page)
    memo: dict[str, datetime] = {}

    def parse(value: Any) -> datetime | None:
        if type(value) is str:
            hit = memo.get(value)
            if hit is not None:
                return hit
        if value is None or value == "" or str(value).startswith("0000-00-00"):
            return None
        if isinstance(value, datetime):
            return value
        out = parse_(str(value))
        if type(value) is str:
            if len(memo) >= DATE_PARSE_MEMO_SIZE:
                memo.clear()  # (whole, as the date renderers' memo: see dates.memo_renderer)
            memo[value] = out
        return out

    return parse


#: parsed date texts each `date:` parse transform keeps (dates.DATE_MEMO_SIZE: rendered ones)
DATE_PARSE_MEMO_SIZE = 4096

# one memoised renderer per format and zone, shared by every field (and vendor) that renders
# so: a ticket's dates recur in other fields (its opening reply's, its last reply's)
_DATE_RENDERERS: weakref.WeakValueDictionary[tuple[str, tzinfo], Fn] = weakref.WeakValueDictionary()


def _date_renderer(fmt: str, zone: tzinfo) -> Fn:
    key = (fmt, zone)
    render = _DATE_RENDERERS.get(key)
    if render is None:
        render = _DATE_RENDERERS[key] = memo_renderer(compile_formatter(fmt, zone))
    return render


def _utc() -> tzinfo:
    from datetime import UTC

    return UTC


def _epoch(arg: str | None, ctx: CompileContext) -> Fn:
    def epoch(value: Any) -> int:
        return int(value.timestamp()) if isinstance(value, datetime) else 0

    return epoch


# how many unmapped enum values the transforms have met (each one is counted in a metric, so a
# result that met one is never reused from a memo: the next request must count it again)
_UNMAPPED_SEEN = [0]
#: the same one-item list, for hot paths that read the count without calling unmapped_seen()
UNMAPPED_SEEN = _UNMAPPED_SEEN


def unmapped_seen() -> int:
    return _UNMAPPED_SEEN[0]


def _enum(arg: str | None, ctx: CompileContext) -> Fn:
    name = _need(arg, "enum")
    table = ctx.enums.get(name)
    if table is None:
        raise TransformArgError(f"unknown enum table '{name}'")
    vendor, hook = ctx.vendor, ctx.on_unmapped
    if ctx.direction == "render":
        to_vendor, fallback = table.to_vendor, table.unmapped

        def render(value: Any) -> str:
            if value is None:
                return ""
            found = to_vendor.get(value)
            if found is not None:
                return found
            _UNMAPPED_SEEN[0] += 1
            hook(vendor, name, str(value))
            if isinstance(value, Unmapped) and fallback is None:
                return str(value)
            return fallback if fallback is not None else str(value)

        INLINE[render] = ("enum", to_vendor)
        return render
    to_canonical = table.to_canonical

    def parse(value: Any) -> Any:
        # (code, label) pairs come from `from: [code, label]`
        code, label = (value[0], value[1]) if isinstance(value, tuple | list) else (value, "")
        if code is None or code == "":
            return None
        key = str(code).strip().casefold()
        found = to_canonical.get(key)
        if found is not None:
            return found
        _UNMAPPED_SEEN[0] += 1
        hook(vendor, name, str(code))
        return Unmapped(vendor=vendor, code=str(code), label=str(label or "") or str(code))

    # the codes this function answers from the table as they are (a text already stripped and
    # case-folded, not empty): the compiler may look a text code up there first
    INLINE[parse] = ("enum_parse", {k: v for k, v in to_canonical.items() if k and k.strip().casefold() == k})
    return parse


def _strict_enum(arg: str | None, ctx: CompileContext) -> Fn:
    """Like enum, but a value the table does not know is an input error."""
    name = _need(arg, "enum!")
    table = ctx.enums.get(name)
    if table is None:
        raise TransformArgError(f"unknown enum table '{name}'")
    to_canonical = table.to_canonical

    def parse(value: Any) -> Any:
        if value is None or value == "":
            return None
        found = to_canonical.get(str(value).strip().casefold())
        if found is None:
            raise ValueError(f"unknown {name} {value!r}")
        return found

    return parse


def _slice(arg: str | None, ctx: CompileContext) -> Fn:
    parts = _need(arg, "slice").split(":")
    try:
        start = int(parts[0]) if parts[0] else None
        stop = int(parts[1]) if len(parts) > 1 and parts[1] else None
    except ValueError:
        raise TransformArgError("slice takes 'slice:START:STOP' with integers") from None

    def cut(value: Any) -> str:
        return to_str(value)[start:stop]

    INLINE[cut] = ("slice", (start, stop))
    return cut


def _join(arg: str | None, ctx: CompileContext) -> Fn:
    sep = " " if arg is None else arg

    def join(value: Any) -> str:
        if value == ():  # a record's attachments: most have none
            return ""
        # (a list, not a generator: join builds one anyway)
        return sep.join([to_str(v) for v in value if v not in (None, "")])

    return join


def _coalesce(value: Any) -> Any:
    for item in value:
        if item not in (None, ""):
            return item
    return None


def _default(arg: str | None, ctx: CompileContext) -> Fn:
    fallback = arg or ""

    def default(value: Any) -> Any:
        return fallback if value in (None, "") else value

    return default


def _split(arg: str | None, ctx: CompileContext) -> Fn:
    sep = arg or ","

    def split(value: Any) -> tuple[str, ...]:
        if value in (None, ""):
            return ()
        return tuple(p.strip() for p in str(value).split(sep) if p.strip())

    return split


def _which(arg: str | None, ctx: CompileContext) -> Fn:
    """``from: [a, b], transform: "which:x|y|z"``: the label of the first source that is set
    (not None, "", 0 or "0"); the last label when none is.  WHMCS tells a staff reply from a
    client's or a guest's by which of ``admin`` and ``userid`` it fills."""
    labels = _need(arg, "which").split("|")
    first, last = labels[0], labels[-1]

    def which(value: Any) -> str:
        if not isinstance(value, tuple | list):  # one source: its label or the last
            return first if value not in (None, "", 0, "0") else last
        values = value
        for label, item in zip(labels, values, strict=False):
            if item not in (None, "", 0, "0"):
                return label
        return labels[-1]

    return which


def _eq(arg: str | None, ctx: CompileContext) -> Fn:
    target = (arg or "").casefold()

    def eq(value: Any) -> bool:
        return to_str(value).strip().casefold() == target

    return eq


def _yn(value: Any) -> str:
    return "Y" if value else "N"


def _nonzero(value: Any) -> Any:
    return None if value in (0, "0", "", None) else value


def _html_text(value: Any) -> str:
    """PMP may store a message with ``<br />`` line breaks; give back plain text."""
    text = to_str(value)
    if "<br" not in text:
        return text
    return re.sub(r"<br\s*/?>(\r?\n)?", "\r\n", text)


def _list(value: Any) -> list[Any]:
    if value in (None, ""):
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: Any) -> str:
    text = to_str(value).strip()
    if text and not _EMAIL.match(text):
        raise ValueError("invalid email address")
    return text


def _slug(value: Any) -> str:
    return re.sub(r"[\s-]+", "", to_str(value)).lower()


def _first(value: Any) -> Any:
    """The first item of a sequence (None when empty)."""
    items = _list(value)
    return items[0] if items else None


def _last(value: Any) -> Any:
    """The last item of a sequence (None when empty): a ticket's last reply."""
    items = _list(value)
    return items[-1] if items else None


def _attr(arg: str | None, ctx: CompileContext) -> Fn:
    """``attr:a.b|c``: the first of these attribute paths (or dict keys) that is not None, '' or 0.

    Compiled to straight-line code: each path's steps read in turn (a prefix several paths share,
    such as ``author`` in ``author.staff_id|author.name``, read once), the first good value
    answered.  A step from None is None."""
    paths = [tuple(p.split(".")) for p in _need(arg, "attr").split("|") if p]
    read: dict[tuple[str, ...], str] = {(): "value"}
    lines = ["def attr(value):"]
    for path in paths:
        for n in range(1, len(path) + 1):
            if path[:n] in read:
                continue
            prev, part, var = read[path[: n - 1]], path[n - 1], f"_{len(read)}"
            lines.append(
                f"    {var} = None if {prev} is None else {prev}.get({part!r}) "
                f"if isinstance({prev}, dict) else getattr({prev}, {part!r}, None)"
            )
            read[path[:n]] = var
        last = read[path]
        lines.append(f"    if {last} is not None and {last} != '' and ({last} is False or {last} != 0):")
        lines.append(f"        return {last}")
    lines.append("    return None")
    ns: dict[str, Any] = {}
    exec(compile("\n".join(lines) + "\n", f"<transform attr:{arg}>", "exec"), ns)
    attr: Fn = ns["attr"]
    return attr


def _page_offset(value: Any) -> int:
    """``from: [page, size]`` -> the offset of that 1-based page (0 without a size)."""
    page, size = value
    size_n = to_int(size)
    page_n = to_int(page) if page not in (None, "") else 1
    if page_n < 1 or size_n < 0:
        raise ValueError("page numbers start at 1")
    offset = (page_n - 1) * size_n
    if offset > MAX_OFFSET:
        raise ValueError("page out of range")
    return offset


# -- Clientexec (seed 000): counters, elapsed times, author ids ----------------


def _len(value: Any) -> int:
    """How many items (0 for None): Clientexec's ``commentcount``."""
    return 0 if value is None else len(value)


def _minutes_since(value: Any) -> int:
    """Whole minutes from an aware datetime until now (0 for none or a future time)."""
    if not isinstance(value, datetime):
        return 0
    return max(0, int((datetime.now(value.tzinfo) - value).total_seconds() // 60))


def _minutes_between(value: Any) -> int:
    """``from: [start, end]`` -> whole minutes between them (0 when either is missing)."""
    start, end = value
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return 0
    return max(0, int((end - start).total_seconds() // 60))


def _duration_text(value: Any) -> str:
    """Minutes as Clientexec writes a duration: ``2 hrs  38 mins``, ``3 days 2 hrs  38 mins``."""
    days, rest = divmod(to_int(value), 1440)
    hours, minutes = divmod(rest, 60)
    text = f"{hours} hrs  {minutes} mins"
    return f"{days} days {text}" if days else text


def _id_or_0(value: Any) -> str | int:
    """An id as a string, or the integer 0 when there is none (Clientexec's ``authorId``)."""
    return 0 if value in (None, "", 0, "0") else to_str(value)


def _remote(arg: str | None, ctx: CompileContext) -> Fn:
    """``remote:VENDOR``: the backend's raw record when it came from that vendor, else ``{}``.

    A dialect spreads it over its rendered fields (``<<: {from: remote, transform: "remote:pmp"}``)
    so that a client in front of its own vendor sees that vendor's record as sent."""
    vendor = _need(arg, "remote")

    def remote(value: Any) -> dict[str, Any]:
        if value is not None and getattr(value, "vendor", None) == vendor:
            return dict(value.fields)
        return {}

    return remote


def _when(arg: str | None, ctx: CompileContext) -> Fn:
    """``when:X`` over ``from: [key, value]``: the value when key equals X, else None."""
    target = (arg or "").casefold()

    def when(pair: Any) -> Any:
        return pair[1] if to_str(pair[0]).casefold() == target else None

    return when


def _unless(arg: str | None, ctx: CompileContext) -> Fn:
    """``unless:X`` over ``from: [key, value]``: the value unless key equals X (then None)."""
    target = (arg or "").casefold()

    def unless(pair: Any) -> Any:
        return None if to_str(pair[0]).casefold() == target else pair[1]

    return unless


def _word(arg: str | None, ctx: CompileContext) -> Fn:
    """``word:first`` / ``word:rest``: a full name's first word or the rest (None when empty)."""
    part = _need(arg, "word")
    if part not in ("first", "rest"):
        raise TransformArgError("transform 'word' takes 'first' or 'rest'")

    def word(value: Any) -> str | None:
        text = to_str(value).strip()
        if not text:
            return None
        first, _, rest = text.partition(" ")
        return first if part == "first" else rest.strip()

    return word


# what quote_plus leaves as it is (its always-safe characters) and the space it makes a "+"
_URL_PLAIN = re.compile(r"[A-Za-z0-9_.~ -]*")


# texts quote_plus encoded lately (messages: a ticket's replies are encoded again each time the
# ticket is, and a changed ticket is mostly the same texts); bounded in entries and in length
_URL_MEMO: dict[str, str] = {}
URL_MEMO_SIZE, URL_MEMO_TEXT = 256, 4096


def _urlencode(value: Any) -> str:
    """``quote_plus``; names, numbers and words (most fields) without its encode-and-scan."""
    text = value if type(value) is str else to_str(value)
    if text.isalnum() and text.isascii():  # (a number or a word, told in C: no pattern match)
        return text
    if _URL_PLAIN.fullmatch(text):
        return text.replace(" ", "+") if " " in text else text
    if len(text) > URL_MEMO_TEXT:
        return quote_plus(text)
    out = _URL_MEMO.get(text)
    if out is None:
        out = quote_plus(text)
        if len(_URL_MEMO) >= URL_MEMO_SIZE:
            _URL_MEMO.clear()  # (whole: see dates.memo_renderer)
        _URL_MEMO[text] = out
    return out


def _nullable(value: Any) -> Any:
    """A rendered value as a string, or None for an absent one (a vendor's SQL NULL)."""
    return None if value in (None, "") else to_str(value)


TRANSFORMS: dict[str, Factory] = {
    "email": _simple(_email),
    "slug": _simple(_slug),
    "str": _simple(to_str),
    "int": _simple(to_int),
    "int?": _simple(to_opt_int),
    "uint": _simple(to_uint),
    "bool": _simple(to_bool),
    "yn": _simple(_yn),
    "strip": _simple(lambda v: to_str(v).strip()),
    "lower": _simple(lambda v: to_str(v).lower()),
    "upper": _simple(lambda v: to_str(v).upper()),
    "urlencode": _simple(_urlencode),
    "coalesce": _simple(_coalesce),
    "nonzero": _simple(_nonzero),
    "html_text": _simple(_html_text),
    "list": _simple(_list),
    "date": _date,
    "epoch": _epoch,
    "enum": _enum,
    "enum!": _strict_enum,
    "slice": _slice,
    "join": _join,
    "default": _default,
    "split": _split,
    "eq": _eq,
    "first": _simple(_first),
    "last": _simple(_last),
    "attr": _attr,
    "page_offset": _simple(_page_offset),
    "len": _simple(_len),
    "minutes_since": _simple(_minutes_since),
    "minutes_between": _simple(_minutes_between),
    "duration_text": _simple(_duration_text),
    "id_or_0": _simple(_id_or_0),
    "remote": _remote,
    "when": _when,
    "unless": _unless,
    "word": _word,
    "nullable": _simple(_nullable),
    "which": _which,
}

# Transforms whose result depends on more than their input (the clock): a model using one is
# computed on every call, never reused from a memo (gateway.mapping.compiler.identity_memo)
VOLATILE: frozenset[str] = frozenset({"minutes_since"})

# Failures a transform raises on bad data: the caller turns them into its own error.
DATA_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError, DateFormatError, OverflowError)


def build(spec: str, ctx: CompileContext) -> Fn:
    name, _, arg = spec.partition(":")
    factory = TRANSFORMS.get(name)
    if factory is None:
        raise TransformArgError(f"unknown transform '{name}'")
    return factory(arg if _ else None, ctx)
