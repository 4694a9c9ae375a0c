from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.mapping.dates import DateFormatError, compile_formatter, compile_parser

WHEN = datetime(2014, 4, 30, 15, 47, 57, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("Y-m-d H:i:s", "2014-04-30 15:47:57"),  # WHMCS, PMP
        ("n/j/Y g:i:s A", "4/30/2014 3:47:57 PM"),  # ReadyDesk: no padding, upper-case
        ("m/d/Y h:i:s a", "04/30/2014 03:47:57 pm"),  # Clientexec: padded, lower-case
        ("Y-m-d", "2014-04-30"),
        ("U", "1398872877"),
    ],
)
def test_formats(fmt: str, expected: str) -> None:
    assert compile_formatter(fmt, UTC)(WHEN) == expected


def test_midnight_and_noon_on_a_12_hour_clock() -> None:
    fmt = compile_formatter("g:i A", UTC)
    assert fmt(datetime(2020, 1, 1, 0, 5, tzinfo=UTC)) == "12:05 AM"
    assert fmt(datetime(2020, 1, 1, 12, 5, tzinfo=UTC)) == "12:05 PM"


def test_formatter_converts_to_the_display_zone() -> None:
    fmt = compile_formatter("Y-m-d H:i:s", ZoneInfo("America/Chicago"))
    assert fmt(datetime(2003, 3, 28, 23, 42, 46, tzinfo=UTC)) == "2003-03-28 17:42:46"


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("n/j/Y g:i:s A", "4/24/2014 10:42:43 AM", datetime(2014, 4, 24, 10, 42, 43, tzinfo=UTC)),
        ("n/j/Y g:i:s A", "4/24/2014 12:00:00 am", datetime(2014, 4, 24, 0, 0, 0, tzinfo=UTC)),
        ("n/j/Y g:i:s A", "2/1/2014 00:00:00", datetime(2014, 2, 1, 0, 0, 0, tzinfo=UTC)),  # 24h input
        ("n/j/Y g:i:s A", "2/1/2014", datetime(2014, 2, 1, tzinfo=UTC)),
        ("m/d/Y h:i:s a", "03/28/2003 05:42:46 pm", datetime(2003, 3, 28, 17, 42, 46, tzinfo=UTC)),
        ("Y-m-d H:i:s", "2016-01-01 06:26:29", datetime(2016, 1, 1, 6, 26, 29, tzinfo=UTC)),
        ("Y-m-d H:i:s", "2016-01-01T06:26:29+02:00", datetime(2016, 1, 1, 4, 26, 29, tzinfo=UTC)),
    ],
)
def test_parses(fmt: str, text: str, expected: datetime) -> None:
    assert compile_parser(fmt, UTC)(text) == expected


def test_parser_reads_naive_text_in_its_zone() -> None:
    parsed = compile_parser("Y-m-d H:i:s", ZoneInfo("Europe/Rome"))("2020-07-01 12:00:00")
    assert parsed.astimezone(UTC) == datetime(2020, 7, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["", "yesterday", "13/45/2014 10:00:00 AM", "2014-02-30 00:00:00", "4/24/2014 13:00:00 PM"]
)
def test_bad_dates_raise(text: str) -> None:
    with pytest.raises(DateFormatError):
        compile_parser("n/j/Y g:i:s A" if "/" in text else "Y-m-d H:i:s", UTC)(text)


def test_unknown_letter_is_refused() -> None:
    with pytest.raises(DateFormatError):
        compile_formatter("Y-m-d Q", UTC)
