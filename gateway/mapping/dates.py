"""Vendor date formats, written in PHP's date() letters, compiled once.

The vendors are PHP and .NET products and their documents describe dates in
PHP's letters: WHMCS and PMP ``Y-m-d H:i:s``, Clientexec ``m/d/Y h:i:s a``,
ReadyDesk ``n/j/Y g:i:s A`` (no padding, upper-case AM/PM).  A format compiles
to a formatter (aware datetime -> text in a zone) and a parser (text -> aware
datetime), both plain functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

# letter -> (f-string expression over `d`, regex group for parsing)
_TOKENS: dict[str, tuple[str, str]] = {
    "Y": ("{d.year:04d}", r"(?P<Y>\d{4})"),
    "y": ("{d.year % 100:02d}", r"(?P<y>\d{2})"),
    "m": ("{d.month:02d}", r"(?P<m>\d{1,2})"),
    "n": ("{d.month}", r"(?P<m>\d{1,2})"),
    "d": ("{d.day:02d}", r"(?P<d>\d{1,2})"),
    "j": ("{d.day}", r"(?P<d>\d{1,2})"),
    "H": ("{d.hour:02d}", r"(?P<H>\d{1,2})"),
    "G": ("{d.hour}", r"(?P<H>\d{1,2})"),
    "h": ("{(d.hour % 12) or 12:02d}", r"(?P<h>\d{1,2})"),
    "g": ("{(d.hour % 12) or 12}", r"(?P<h>\d{1,2})"),
    "i": ("{d.minute:02d}", r"(?P<i>\d{2})"),
    "s": ("{d.second:02d}", r"(?P<s>\d{2})"),
    "a": ("{'pm' if d.hour >= 12 else 'am'}", r"(?P<a>[aApP][mM])"),
    "A": ("{'PM' if d.hour >= 12 else 'AM'}", r"(?P<a>[aApP][mM])"),
    "U": ("{int(d.timestamp())}", r"(?P<U>-?\d+)"),
}

Formatter = Callable[[datetime], str]
Parser = Callable[[str], datetime]


class DateFormatError(ValueError):
    pass


def _split(fmt: str) -> list[tuple[bool, str]]:
    """(is_token, text) pieces; a backslash escapes the next letter, as in PHP."""
    pieces: list[tuple[bool, str]] = []
    escaped = False
    for ch in fmt:
        if escaped:
            pieces.append((False, ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch.isalpha():
            if ch not in _TOKENS:
                raise DateFormatError(f"unsupported date letter {ch!r} in {fmt!r}")
            pieces.append((True, ch))
        else:
            pieces.append((False, ch))
    return pieces


def compile_formatter(fmt: str, zone: tzinfo | None) -> Formatter:
    """An aware datetime -> text in ``zone`` (None: keep the datetime's own zone)."""
    body = "".join(
        _TOKENS[text][0] if is_tok else text.replace("{", "{{").replace("}", "}}").replace('"', '\\"')
        for is_tok, text in _split(fmt)
    )
    namespace: dict[str, object] = {"_zone": zone}
    convert = "d = d.astimezone(_zone)\n    " if zone is not None else ""
    # the formats WHMCS and PMP use are ISO 8601's first characters: the C formatter, 4x cheaper
    iso = {"Y-m-d H:i:s": "d.isoformat(' ')[:19]", "Y-m-d": "d.isoformat()[:10]"}.get(fmt)
    result = iso or f'f"{body}"'
    source = f"def _fmt(d):\n    {convert}return {result}\n"
    exec(compile(source, f"<date format {fmt!r}>", "exec"), namespace)
    return namespace["_fmt"]  # type: ignore[return-value]


#: texts a date renderer remembers (per date format); cleared whole when full
DATE_MEMO_SIZE = 1024


def memo_renderer(fmt: Formatter, size: int = DATE_MEMO_SIZE) -> Callable[[object], str]:
    """``fmt`` over a datetime, ``""`` for anything else; the text of an aware datetime remembered.

    For a formatter that converts to a zone (its text then depends on the instant alone).
    A datetime is immutable and a ticket repeats its dates (its last reply is its
    ``lastreply``; a record parsed again carries equal dates), so each is formatted once.
    Aware datetimes that compare equal with ``fold`` 0 are the same instant (same zone:
    same fields; other zones: Python calls a time the fold makes ambiguous unequal).
    Not memoised: a naive datetime (the process's local zone), ``fold=1`` (equal to its
    fold-0 twin, an hour apart), a datetime subclass."""
    memo: dict[datetime, str] = {}

    def render(value: object) -> str:
        if type(value) is datetime and value.tzinfo is not None and not value.fold:
            text = memo.get(value)
            if text is None:
                text = fmt(value)
                if len(memo) >= size:
                    memo.clear()  # (whole: evicting one by one scans the dict's deleted slots)
                memo[value] = text
            return text
        return fmt(value) if isinstance(value, datetime) else ""

    return render


def compile_parser(fmt: str, zone: tzinfo) -> Parser:
    """Text in ``fmt`` (or ISO 8601 / ``Y-m-d H:i:s``) -> aware datetime; naive input is in ``zone``.

    Lenient the way the vendors are: unpadded numbers, either AM/PM case, and a
    24-hour time with no AM/PM where the format has 12-hour letters
    (ReadyDesk documents ``2/1/2014 00:00:00`` as input).
    """
    parts: list[str] = []
    for is_tok, text in _split(fmt):
        if is_tok and text in "aA":
            if parts and parts[-1] == r"\s+":
                parts.pop()  # the AM/PM group carries its own optional space
            parts.append(r"(?:\s*" + _TOKENS[text][1] + ")?")
        elif is_tok:
            parts.append(_TOKENS[text][1])
        elif text == " ":
            parts.append(r"\s*" if parts and parts[-1].startswith(r"(?:\s*") else r"\s+")
        else:
            parts.append(re.escape(text))
    # a missing time part is midnight
    pattern = re.compile(r"^\s*" + "".join(parts) + r"\s*$")
    date_only = _date_only_pattern(fmt)
    iso_like = fmt in ("Y-m-d H:i:s", "Y-m-d")

    def parse(text: str) -> datetime:
        if iso_like and len(text) in (10, 19):
            # the common case (WHMCS, PMP): the C parser, 20x cheaper than the regex
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                pass
            else:
                return value if value.tzinfo is not None else value.replace(tzinfo=zone)
        m = pattern.match(text) or (date_only.match(text) if date_only else None)
        if m is None:
            return _parse_iso(text, zone)
        return _from_groups(m.groupdict(), zone, text)

    return parse


def _date_only_pattern(fmt: str) -> re.Pattern[str] | None:
    head = fmt.split(" ", 1)[0]
    if head == fmt:
        return None
    parts = [(_TOKENS[t][1] if tok else re.escape(t)) for tok, t in _split(head)]
    return re.compile(r"^\s*" + "".join(parts) + r"\s*$")


def _from_groups(g: dict[str, str | None], zone: tzinfo, text: str) -> datetime:
    try:
        if g.get("U"):
            return datetime.fromtimestamp(int(g["U"] or 0), UTC)
        year = int(g.get("Y") or 0) if g.get("Y") else 2000 + int(g.get("y") or 0)
        hour = int(g.get("H") or g.get("h") or 0)
        ampm = (g.get("a") or "").lower()
        if g.get("h") and ampm:
            if not 1 <= hour <= 12:
                raise DateFormatError(f"invalid hour in {text!r}")
            hour = hour % 12 + (12 if ampm == "pm" else 0)
        return datetime(
            year,
            int(g.get("m") or 1),
            int(g.get("d") or 1),
            hour,
            int(g.get("i") or 0),
            int(g.get("s") or 0),
            tzinfo=zone,
        )
    except (ValueError, OverflowError, OSError) as exc:
        raise DateFormatError(f"invalid date {text!r}: {exc}") from None


def _parse_iso(text: str, zone: tzinfo) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DateFormatError(f"unrecognised date {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)
