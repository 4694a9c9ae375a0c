"""Every dialect's endpoint fed malformed and adversarial input (parametrised cases).

Each case is one request and what it may produce (:class:`helpers.Case`);
:func:`helpers.judge` checks the invariants: never a 500, the dialect's own
error shape or a correct answer, no stack trace / token / secret in the body, no
backend call for input that failed validation, nothing written unless the
request was a legitimate write.

Cases that currently fail because of a gateway bug are listed in ``KNOWN_BUGS``
(xfail, not strict): remove an entry once the bug is fixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.hostile.helpers import BEARER, FORM, JSON_CT, WHMCS_AUTH, Case, judge
from tests.hostile.server import HostileGateway

# ------------------------------------------------------------------ builders

WHMCS = "/includes/api.php"
KELI = "/api/v2/keliweb/"
RD = "/API/default.aspx"
CE_KEY = "apikey=demo-secret"
RD_KEY = "key=demo-secret"


def wh(body: str | bytes, fmt: str = "json", **kw: Any) -> Case:
    """A WHMCS form POST; ``responsetype`` is appended for json/xml."""
    if fmt in ("json", "xml"):
        suffix = f"&responsetype={fmt}"
        body = body + suffix if isinstance(body, str) else body + suffix.encode()
    headers = kw.pop("headers", FORM)
    return Case("whmcs", "POST", kw.pop("target", WHMCS), body, headers, fmt=fmt, **kw)


def wha(body: str, fmt: str = "json", **kw: Any) -> Case:
    """A WHMCS form POST with valid credentials."""
    return wh(f"{WHMCS_AUTH}&{body}", fmt, **kw)


def kw_(action: str, body: str | bytes = "", headers: dict[str, Any] | None = None, **kw: Any) -> Case:
    return Case("keliweb", "POST", KELI + action, body, headers if headers is not None else {**BEARER, **FORM}, **kw)


def ce(method: str, path: str, body: str | bytes = "", headers: dict[str, Any] | None = None, **kw: Any) -> Case:
    sep = "&" if "?" in path else "?"
    target = path if kw.pop("nokey", False) else f"{path}{sep}{CE_KEY}"
    return Case("clientexec", method, target, body, headers if headers is not None else {}, **kw)


def rd(query: str, body: str | bytes = "", fmt: str = "json", **kw: Any) -> Case:
    q = f"{query}&format={fmt}" if fmt else query
    method = kw.pop("method", "POST" if body else "GET")
    headers = kw.pop("headers", FORM if body else {})
    return Case("readydesk", method, f"{RD}?{q}", body, headers, fmt=fmt or "xml", **kw)


def rda(query: str, body: str | bytes = "", fmt: str = "json", **kw: Any) -> Case:
    return rd(f"{RD_KEY}&{query}", body, fmt, **kw)


def mp(boundary: str, *parts: tuple[str, str], extra: str = "", end: bool = True) -> str:
    out = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n{extra}\r\n{value}\r\n'
        for name, value in parts
    )
    return out + (f"--{boundary}--\r\n" if end else "")


TWO_MB = 2 * 1024 * 1024
BIG_FORM = "a=" + "x" * TWO_MB
BIG_JSON = json.dumps({"subject": "x" * TWO_MB})
NESTED_LIST = "[" * 10_000 + "]" * 10_000
NESTED_OBJ = '{"a":' * 10_000 + "1" + "}" * 10_000
HUGE_ARRAY = '{"ticketid": [' + ",".join(["1"] * 200_000) + "]}"
HUGE_TOP_ARRAY = "[" + ",".join(['{"ticketid": 1}'] * 50_000) + "]"
MANY_KEYS = json.dumps({f"k{i}": i for i in range(20_000)})
MB_TEXT = "x" * 1_000_000  # a 1 MB field: within the 1 MiB limit with the rest of the body

XML_BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>\n<request><action>GetTicket</action><ticketid>&lol9;</ticketid></request>"
)
XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<request><action>GetTicket</action><identifier>demo</identifier><ticketid>&xxe;</ticketid></request>"
)
XXE_PARAM = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/evil.dtd"> %ext;]>'
    "<request><action>GetTicket</action></request>"
)

TRAVERSALS = {
    "dotdot-delete": "1/../delete/tickets/2",
    "pct-dotdot": "1%2F..%2Fdelete%2Ftickets%2F2",
    "sql-or": "1 OR 1=1",
    "sql-quote": "1' --",
    "semicolon": "1;DELETE",
    "etc-passwd": "../../../../etc/passwd",
    "nul": "1\x00",
    "crlf-header": "1\r\nX-Injected: 1",
    "query-in-id": "1?authtoken=x",
    "fragment": "1#x",
    "url": "http://127.0.0.1:9/",
}
NUMBERS = {
    "huge": "99999999999999999999999",
    "huge-19": "9999999999999999999",
    "negative": "-1",
    "zero": "0",
    "float": "1.5",
    "float-int": "1.0",
    "exp": "1e3",
    "hex": "0x1",
    "inf": "inf",
    "nan": "NaN",
    "five-k-digits": "9" * 5000,
    "empty": "",
    "space": " ",
    "plus": "+",
}
# an id that ends up invalid (no backend call): everything but "empty"/"space" (then: missing)
BAD_IDS = {**{f"trav-{k}": v for k, v in TRAVERSALS.items()}, **{f"num-{k}": v for k, v in NUMBERS.items()}}


def q(value: str) -> str:
    return quote(value, safe="")


# ------------------------------------------------------------------ the cases


def cases() -> Iterator[tuple[str, Case]]:
    # ---- ids: traversal, injection, odd numbers, through every dialect ----
    for name, value in BAD_IDS.items():
        v = q(value)
        yield f"whmcs-getticket-id-{name}", wha(f"action=GetTicket&ticketid={v}")
        yield f"whmcs-deleteticket-id-{name}", wha(f"action=DeleteTicket&ticketid={v}")
        yield f"whmcs-updateticket-id-{name}", wha(f"action=UpdateTicket&ticketid={v}&status=Closed")
        yield f"whmcs-getclientsdetails-id-{name}", wha(f"action=GetClientsDetails&clientid={v}")
        yield f"whmcs-deleteclient-id-{name}", wha(f"action=DeleteClient&clientid={v}")
        yield f"keliweb-getticket-id-{name}", kw_("get-ticket", f"ticketid={v}")
        yield f"keliweb-deleteticket-id-{name}", kw_("delete-ticket", f"ticketid={v}")
        yield f"keliweb-updateticket-id-{name}", kw_("update-ticket", f"ticketid={v}&status=Closed")
        yield f"clientexec-get-query-id-{name}", ce("GET", f"/api/ticket?ticket={v}")
        yield (
            f"clientexec-put-body-id-{name}",
            ce("PUT", "/api/ticket/1", f"ticket={v}&status=-1", FORM, backend=True, write=True, expect="any"),
        )
        yield f"readydesk-update-tid-{name}", rda(f"action=update_ticket&tid={v}&subject=x")
        if value.strip():
            # in the path (an empty segment is another route)
            yield f"clientexec-get-path-id-{name}", ce("GET", f"/api/ticket/{v}")
            yield f"clientexec-put-path-id-{name}", ce("PUT", f"/api/ticket/{v}", "status=-1", FORM)
            yield f"clientexec-reply-path-id-{name}", ce("POST", f"/api/ticket/{v}/reply", "message=hi", FORM)
    # non-ASCII digits: str.isdigit() and re's \d accept them, int() may not
    for name, value in {"superscript-two": "\u00b2", "arabic-one": "\u0661", "fullwidth-one": "\uff11"}.items():
        v = q(value)
        yield f"whmcs-getticket-ticketnum-{name}", wha(f"action=GetTicket&ticketnum={v}")
        yield f"whmcs-addticketnote-ticketnum-{name}", wha(f"action=AddTicketNote&ticketnum={v}&message=m")
        yield f"whmcs-getticket-id-{name}", wha(f"action=GetTicket&ticketid={v}")
        yield f"keliweb-getticket-id-{name}", kw_("get-ticket", f"ticketid={v}")
        yield f"clientexec-get-path-id-{name}", ce("GET", f"/api/ticket/{v}")
        yield f"readydesk-update-tid-{name}", rda(f"action=update_ticket&tid={v}&status=Closed")
    # Clientexec path ids spelled as the issue gives them
    for name, path in {
        "pct-slash-delete": "/api/ticket/1%2F..%2Fdelete%2Ftickets%2F2",
        "pct-dotdot-dotdot": "/api/ticket/..%2F..",
        "pct-dotdot-includes": "/api/ticket/..%2F..%2Fincludes%2Fapi.php",
        "raw-dotdot-tail": "/api/ticket/1/../../includes/api.php",
        "raw-dotdot-delete": "/api/ticket/1/../delete/tickets/2",
        "double-encoded": "/api/ticket/1%252F..%252Fdelete",
        "unicode-slash": "/api/ticket/1%E2%88%95..%E2%88%95delete",
        "or-1-1": "/api/ticket/1%20OR%201=1",
        "semicolon-param": "/api/ticket/1;delete",
    }.items():
        yield f"clientexec-path-{name}", ce("GET", path)
        yield f"clientexec-path-put-{name}", ce("PUT", path, "status=-1", FORM)
    # ReadyDesk ids that are filters (a correct, possibly empty, answer)
    for name, value in TRAVERSALS.items():
        yield f"readydesk-get-tid-filter-{name}", rda(f"action=get_tickets&tid={q(value)}", expect="any", backend=True)
        yield f"readydesk-get-cid-{name}", rda(f"action=get_tickets&cid={q(value)}")
    # Keliweb action from the path: traversal and oddities
    for name, action in {
        "pct-dotdot": "..%2Fdelete-ticket",
        "pct-slash-tail": "get-ticket%2F..%2F..%2Fdelete-ticket",
        "raw-dotdot": "get-ticket/../delete-ticket",
        "camel": "GetTicket",
        "upper-kebab": "GET-TICKET",
        "nul": "get-ticket%00",
        "crlf": "get-ticket%0d%0aX-Injected:%201",
        "unicode": "g%C3%A9t-ticket",
        "long": "a" * 5000,
        "empty": "",
    }.items():
        expect = "any" if name == "upper-kebab" else "error"
        yield f"keliweb-action-{name}", kw_(action, "ticketid=1", expect=expect, backend=expect == "any")

    # ---- numbers in counters and other integer fields ----
    for name, value in NUMBERS.items():
        if not value.strip():
            continue
        v = q(value)
        fine: dict[str, Any] = {"expect": "any", "backend": True}
        counter = fine if name == "zero" else {}  # 0 is a valid count / offset
        filt = fine if name in ("zero", "negative") else {}  # an id filter that matches nothing
        yield f"whmcs-gettickets-limitnum-{name}", wha(f"action=GetTickets&limitnum={v}", **counter)
        yield f"whmcs-gettickets-limitstart-{name}", wha(f"action=GetTickets&limitstart={v}", **counter)
        yield f"whmcs-gettickets-deptid-{name}", wha(f"action=GetTickets&deptid={v}", **filt)
        yield f"whmcs-getclients-limitstart-{name}", wha(f"action=GetClients&limitstart={v}", **counter)
        yield f"keliweb-gettickets-limitnum-{name}", kw_("get-tickets", f"limitnum={v}", **counter)
        yield f"clientexec-list-page-{name}", ce("GET", f"/api/tickets?page={v}&limit=2")
        yield f"clientexec-list-limit-{name}", ce("GET", f"/api/tickets?limit={v}", **counter)
        yield f"readydesk-get-count-{name}", rda(f"action=get_tickets&count={v}", **counter)
        yield f"readydesk-get-page-{name}", rda(f"action=get_tickets&count=2&page={v}")
        yield f"readydesk-get-start-tid-{name}", rda(f"action=get_tickets&start_tid={v}", **filt)
        # an invalid department in a write: refused before anything is written
        yield (
            f"whmcs-openticket-deptid-{name}",
            wha(f"action=OpenTicket&deptid={v}&subject=s&message=m&name=n&email=a%40example.com"),
        )
        yield f"whmcs-updateticket-deptid-{name}", wha(f"action=UpdateTicket&ticketid=1&deptid={v}")
        yield (
            f"keliweb-openticket-deptid-{name}",
            kw_("open-ticket", f"deptid={v}&subject=s&message=m&name=n&email=a%40example.com"),
        )
        yield (
            f"clientexec-open-departmentid-{name}",
            ce("POST", "/api/ticket", json.dumps({"subject": "s", "message": "m", "departmentid": value}), JSON_CT),
        )
        yield f"readydesk-add-category-{name}", rda(f"action=add_ticket&subject=s&summary=m&category={v}")
    # a department that does not exist
    yield (
        "whmcs-openticket-deptid-unknown",
        wha("action=OpenTicket&deptid=999&subject=s&message=m&name=n&email=a%40example.com", backend=True),
    )
    yield (
        "clientexec-open-departmentid-unknown",
        ce("POST", "/api/ticket", '{"subject": "s", "message": "m", "departmentid": 999}', JSON_CT, backend=True),
    )
    # overflowing page * limit
    yield (
        "clientexec-list-page-x-limit-overflow",
        ce("GET", "/api/tickets?page=999999999999999999&limit=999999999999999999", expect="any"),
    )
    yield (
        "readydesk-get-page-x-count-overflow",
        rda("action=get_tickets&count=999999999999999999&page=999999999999999999", expect="any", backend=True),
    )
    yield (
        "whmcs-gettickets-limitstart-max",
        wha("action=GetTickets&limitstart=999999999999999999&limitnum=999999999999999999", expect="any", backend=True),
    )

    # ---- CR/LF and NUL in values that could reach backend URLs or headers ----
    crlf = "%0d%0aX-Injected:%201"
    yield "whmcs-getclientsdetails-email-crlf", wha(f"action=GetClientsDetails&email=a{crlf}", backend=True)
    yield "whmcs-getclients-search-crlf", wha(f"action=GetClients&search=a{crlf}", expect="any", backend=True)
    yield "whmcs-gettickets-email-crlf", wha(f"action=GetTickets&email=a{crlf}", expect="any", backend=True)
    yield "whmcs-ticketnum-crlf", wha(f"action=GetTicket&ticketnum=1{crlf}")
    yield (
        "whmcs-responsetype-crlf",
        wha(f"action=GetTicket&ticketid=1&responsetype=json{crlf}", "legacy", expect="any", backend=True),
    )
    yield "keliweb-email-crlf", kw_("get-clients-details", f"email=a{crlf}", backend=True)
    yield "readydesk-keyword-crlf", rda(f"action=get_tickets&keyword=a{crlf}", expect="any", backend=True)
    yield "readydesk-format-crlf", rda(f"action=get_tickets&tid=1&format=url{crlf}", fmt="", expect="any", backend=True)
    yield "readydesk-key-crlf", rd(f"key=demo-secret{crlf}&action=get_tickets")
    yield "clientexec-apikey-crlf", ce("GET", f"/api/ticket/1?apikey=demo-secret{crlf}", nokey=True)
    yield "clientexec-status-crlf", ce("GET", f"/api/tickets?status=1{crlf}")
    yield "whmcs-secret-crlf", wh(f"action=GetTicket&ticketid=1&identifier=demo&secret=demo-secret{crlf}", status=403)
    yield "whmcs-identifier-nul", wh("action=GetTicket&ticketid=1&identifier=demo%00&secret=demo-secret", status=403)
    yield (
        "keliweb-bearer-trailing-junk",
        kw_("get-ticket", "ticketid=1", {**FORM, "Authorization": "Bearer demo-secret X-Injected: 1"}, status=401),
    )

    # ---- duplicated parameters: the last wins (PHP), a correct answer ----
    yield "whmcs-dup-ticketid", wha("action=GetTicket&ticketid=1&ticketid=2", expect="ok", backend=True)
    yield (
        "whmcs-dup-query-and-body",
        wha("action=GetTicket&ticketid=1", target=WHMCS + "?ticketid=2", expect="ok", backend=True),
    )
    yield "whmcs-dup-action", wha("action=DeleteTicket&action=GetTicket&ticketid=1", expect="ok", backend=True)
    yield "whmcs-dup-action-brackets", wha("action[]=DeleteTicket&action[]=GetTicket&ticketid=1")
    yield "whmcs-ticketid-array", wha("action=GetTicket&ticketid[]=1&ticketid[]=2")
    yield "whmcs-ticketid-php-array", wha("action=DeleteTicket&ticketid[0]=1")
    yield "keliweb-dup-ticketid", kw_("get-ticket", "ticketid=1&ticketid=2", expect="ok", backend=True)
    yield "clientexec-dup-ticket-query", ce("GET", "/api/ticket?ticket=1&ticket=2", expect="ok", backend=True)
    yield "clientexec-path-and-query-ticket", ce("GET", "/api/ticket/1?ticket=2", expect="ok", backend=True)
    yield "readydesk-dup-action", rda("action=update_ticket&action=get_tickets&tid=1", expect="ok", backend=True)
    yield "readydesk-dup-format", rda("action=get_tickets&tid=1&format=xml", fmt="json", expect="ok", backend=True)

    # ---- invalid UTF-8 and control bytes ----
    yield (
        "whmcs-form-raw-ff-bytes",
        Case(
            "whmcs",
            "POST",
            WHMCS,
            WHMCS_AUTH.encode() + b"&action=GetTicket&ticketid=1&responsetype=json&x=\xff\xfe\xc0\x80",
            dict(FORM),
            fmt="legacy",
        ),
    )
    yield (
        "whmcs-form-overlong-utf8",
        Case(
            "whmcs",
            "POST",
            WHMCS,
            WHMCS_AUTH.encode() + b"&action=GetTicket&ticketid=1&responsetype=json&x=\xc0\xaf",
            dict(FORM),
            fmt="legacy",
        ),
    )
    yield "whmcs-form-pct-ff", wha("action=GetTicket&ticketid=1&x=%ff%fe", expect="any", backend=True)
    yield "whmcs-form-pct-surrogate", wha("action=GetTicket&ticketid=1&x=%ed%a0%80", expect="any", backend=True)
    yield (
        "whmcs-query-pct-ff",
        wha("x=1", target=WHMCS + "?action=GetTicket&ticketid=1&x=%ff%c0%80", expect="any", backend=True),
    )
    yield "whmcs-action-pct-ff", wha("action=GetTicket%ff&ticketid=1")
    yield (
        "whmcs-json-raw-ff",
        Case(
            "whmcs",
            "POST",
            WHMCS + "?responsetype=json&" + WHMCS_AUTH,
            b'{"action":"GetTicket","ticketid":"\xff"}',
            dict(JSON_CT),
        ),
    )
    yield "keliweb-form-raw-ff", kw_("get-ticket", b"ticketid=1&x=\xff\xfe")
    yield (
        "keliweb-multipart-raw-ff",
        kw_(
            "get-ticket",
            b'--b\r\nContent-Disposition: form-data; name="ticketid"\r\n\r\n\xff\xfe\r\n--b--\r\n',
            {**BEARER, "Content-Type": "multipart/form-data; boundary=b"},
        ),
    )
    yield "clientexec-form-raw-ff", ce("PUT", "/api/ticket/1", b"status=\xff", FORM)
    yield (
        "clientexec-json-raw-ff",
        ce("POST", "/api/ticket", b'{"subject":"\xff","message":"m","departmentid":1}', JSON_CT),
    )
    yield "clientexec-query-pct-ff", ce("GET", "/api/ticket/%ff")
    yield "readydesk-form-raw-ff", rda("", b"action=add_ticket&subject=\xff&summary=x")
    yield "readydesk-query-pct-ff", rda("action=get_tickets&keyword=%ff%fe", expect="any", backend=True)
    yield "readydesk-key-pct-ff", rd("key=%ff&action=get_tickets")
    for fmt in ("json", "xml", "url"):
        yield f"readydesk-{fmt}-error-pct-controls", rd("key=%01%02%1b&action=get_tickets%0b%0c", fmt=fmt)

    # ---- multipart with broken boundaries ----
    good = mp("b", ("action", "GetTicket"), ("identifier", "demo"), ("secret", "demo-secret"), ("ticketid", "1"))
    for name, (ctype, body) in {
        "no-boundary-param": ("multipart/form-data", good),
        "empty-boundary": ("multipart/form-data; boundary=", good),
        "wrong-boundary": ("multipart/form-data; boundary=zzz", good),
        "unterminated": ("multipart/form-data; boundary=b", good[: -len("--b--\r\n")]),
        "truncated-part": ("multipart/form-data; boundary=b", good[:40]),
        "mixed-boundaries": ("multipart/form-data; boundary=b", good.replace("--b\r\n", "--c\r\n", 2)),
        "no-disposition": ("multipart/form-data; boundary=b", "--b\r\n\r\nGetTicket\r\n--b--\r\n"),
        "nested-multipart": (
            "multipart/form-data; boundary=b",
            '--b\r\nContent-Disposition: form-data; name="x"\r\n'
            "Content-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\nhi\r\n--c--\r\n--b--\r\n",
        ),
        "bad-part-charset": (
            "multipart/form-data; boundary=b",
            mp("b", ("action", "GetTicket"), extra="Content-Type: text/plain; charset=nope\r\n"),
        ),
        "base64-garbage": (
            "multipart/form-data; boundary=b",
            mp("b", ("action", "GetTicket"), extra="Content-Transfer-Encoding: base64\r\n"),
        ),
        "long-boundary": ("multipart/form-data; boundary=" + "b" * 5000, good),
        "just-dashes": ("multipart/form-data; boundary=b", "--"),
        "control-in-part-name": (
            "multipart/form-data; boundary=b",
            '--b\r\nContent-Disposition: form-data; name="a\x01"\r\n\r\nv\r\n--b--\r\n',
        ),
        "latin1-in-part-header": (
            "multipart/form-data; boundary=b",
            '--b\r\nContent-Disposition: form-data; name="\u00e9"; filename="\u00ff"\r\n\r\nv\r\n--b--\r\n',
        ),
        "garbage": ("multipart/form-data; boundary=b", "\x00\x01\x02 not multipart at all"),
    }.items():
        yield f"whmcs-multipart-{name}", wh(body, "legacy", headers={"Content-Type": ctype}, expect="any", backend=True)
        yield (
            f"keliweb-multipart-{name}",
            kw_("get-ticket", body, {**BEARER, "Content-Type": ctype}, expect="any", backend=True),
        )
        yield f"clientexec-multipart-{name}", ce("POST", "/api/ticket", body, {"Content-Type": ctype})
        yield (
            f"readydesk-multipart-{name}",
            rda("action=get_tickets&tid=1", body, "json", headers={"Content-Type": ctype}, expect="any", backend=True),
        )

    # ---- wrong content types ----
    form_body = f"{WHMCS_AUTH}&action=GetTicket&ticketid=1"
    for name, ctype in {
        "text-plain": "text/plain",
        "xml": "application/xml",
        "text-xml": "text/xml",
        "octet": "application/octet-stream",
        "json-for-form": "application/json",
        "bogus": "foo/bar",
        "form-bad-charset": "application/x-www-form-urlencoded; charset=nope",
        "form-utf16": "application/x-www-form-urlencoded; charset=utf-16",
        "json-bad-charset": "application/json; charset=nope",
    }.items():
        # credentials and action in the body only: a refused body is an authentication failure
        yield (
            f"whmcs-ctype-{name}",
            wh(form_body, "legacy", headers={"Content-Type": ctype}, expect="any", backend=True),
        )
        yield (
            f"keliweb-ctype-{name}",
            kw_("get-ticket", "ticketid=1", {**BEARER, "Content-Type": ctype}, expect="any", backend=True),
        )
        yield (
            f"clientexec-ctype-{name}",
            ce(
                "POST",
                "/api/ticket",
                "subject=s&message=m&departmentid=1",
                {"Content-Type": ctype},
                expect="any",
                backend=True,
                write=True,
            ),
        )
        yield (
            f"readydesk-ctype-{name}",
            rd(
                "",
                f"{RD_KEY}&action=get_tickets&tid=1",
                "json",
                headers={"Content-Type": ctype},
                expect="any",
                backend=True,
            ),
        )
    for name, encoding in {
        "gzip-garbage": "gzip",
        "deflate-garbage": "deflate",
        "br": "br",
        "unknown": "x-foo",
    }.items():
        yield (
            f"whmcs-content-encoding-{name}",
            wh(form_body, "legacy", headers={**FORM, "Content-Encoding": encoding}, expect="any", backend=True),
        )
        yield (
            f"keliweb-content-encoding-{name}",
            kw_(
                "get-ticket",
                '{"ticketid": 1}',
                {**BEARER, **JSON_CT, "Content-Encoding": encoding},
                expect="any",
                backend=True,
            ),
        )
        yield (
            f"clientexec-content-encoding-{name}",
            ce(
                "PUT",
                "/api/ticket/1",
                "status=-1",
                {**FORM, "Content-Encoding": encoding},
                expect="any",
                backend=True,
                write=True,
            ),
        )
        yield (
            f"readydesk-content-encoding-{name}",
            rda(
                "action=get_tickets&tid=1",
                "x=1",
                headers={**FORM, "Content-Encoding": encoding},
                expect="any",
                backend=True,
            ),
        )

    # ---- XML bodies: no dialect parses XML input, so they are refused (or ignored) cleanly ----
    for name, xml in {"billion-laughs": XML_BOMB, "xxe-file": XXE, "xxe-parameter-entity": XXE_PARAM}.items():
        for ctype in ("application/xml", "text/xml"):
            tag = f"{name}-{ctype.split('/')[0]}"
            yield f"whmcs-{tag}", wh(xml, "legacy", target=WHMCS + "?" + WHMCS_AUTH, headers={"Content-Type": ctype})
            yield f"keliweb-{tag}", kw_("open-ticket", xml, {**BEARER, "Content-Type": ctype})
            yield f"clientexec-{tag}", ce("POST", "/api/ticket", xml, {"Content-Type": ctype})
            yield f"readydesk-{tag}", rda("", xml, "xml", headers={"Content-Type": ctype})
        # and as a form field value: data, never parsed
        yield f"whmcs-field-{name}", wha(f"action=GetTickets&subject={q(xml)}", expect="ok", backend=True)

    # ---- oversize bodies: 413 in every dialect, nothing read further, no backend call ----
    for name, (ctype, body) in {
        "form": ("application/x-www-form-urlencoded", BIG_FORM),
        "json": ("application/json", BIG_JSON),
        "multipart": ("multipart/form-data; boundary=b", mp("b", ("subject", "x" * TWO_MB))),
        "octet": ("application/octet-stream", "x" * TWO_MB),
        "no-ctype": ("", BIG_FORM),
    }.items():
        headers = {"Content-Type": ctype} if ctype else {}
        yield (
            f"whmcs-2mb-{name}",
            wh(BIG_FORM if not ctype else body, "legacy", target=WHMCS + "?" + WHMCS_AUTH, headers=headers, status=413),
        )
        yield f"keliweb-2mb-{name}", kw_("open-ticket", body, {**BEARER, **headers}, status=413)
        yield f"clientexec-2mb-{name}", ce("POST", "/api/ticket", body, headers, status=413)
        yield f"readydesk-2mb-{name}", rda("action=add_ticket", body, "xml", headers=headers, status=413)

    # ---- JSON: deeply nested, huge, odd ----
    for name, body in {
        "nested-list-10k": NESTED_LIST,
        "nested-obj-10k": NESTED_OBJ,
        "huge-array-value": HUGE_ARRAY,
        "huge-top-array": HUGE_TOP_ARRAY,
        "top-string": '"GetTicket"',
        "top-number": "1",
        "top-null": "null",
        "truncated": '{"ticketid": ',
        "trailing-garbage": '{"ticketid": 1} x',
        "nan": '{"ticketid": NaN}',
        "inf-literal": '{"ticketid": 1e400}',
        "big-int": '{"ticketid": 99999999999999999999999999}',
        "lone-surrogate": '{"ticketid": "\\ud800"}',
        "nul-key": '{"ticketid\\u0000": 1}',
        "bom": "\ufeff{}",
        "comments": '{/* x */ "ticketid": 1}',
        "single-quotes": "{'ticketid': 1}",
    }.items():
        yield (
            f"whmcs-json-{name}",
            wh(
                body,
                "legacy",
                target=WHMCS + "?" + WHMCS_AUTH + "&action=GetTicket",
                headers=JSON_CT,
                expect="any",
                backend=True,
            ),
        )
        yield f"keliweb-json-{name}", kw_("get-ticket", body, {**BEARER, **JSON_CT}, expect="any", backend=True)
        yield f"clientexec-json-{name}", ce("POST", "/api/ticket", body, JSON_CT)
        yield (
            f"clientexec-json-put-{name}",
            ce("PUT", "/api/ticket/1", body, JSON_CT, expect="any", backend=True, write=True),
        )
        yield f"readydesk-json-{name}", rda("action=add_ticket", body, "json", headers=JSON_CT)
    yield "keliweb-json-many-keys", kw_("get-tickets", MANY_KEYS, {**BEARER, **JSON_CT}, expect="any", backend=True)
    yield "clientexec-json-many-keys", ce("GET", "/api/tickets", MANY_KEYS, JSON_CT, expect="any", backend=True)
    yield (
        "keliweb-json-bool-ticketid",
        kw_("get-ticket", '{"ticketid": true}', {**BEARER, **JSON_CT}, expect="any", backend=True),
    )
    yield "keliweb-json-float-ticketid", kw_("get-ticket", '{"ticketid": 1.0}', {**BEARER, **JSON_CT})
    yield "clientexec-json-object-status", ce("PUT", "/api/ticket/1", '{"status": {"$ne": 1}}', JSON_CT)
    yield "clientexec-json-list-status", ce("PUT", "/api/ticket/1", '{"status": [1, 2]}', JSON_CT)

    # ---- empty bodies, missing and empty required fields ----
    yield "whmcs-empty-body", wh("", "legacy", status=403)
    yield "whmcs-empty-body-json", Case("whmcs", "POST", WHMCS + "?responsetype=json", b"", dict(FORM), status=403)
    yield "whmcs-get-no-params", Case("whmcs", "GET", WHMCS, fmt="legacy", status=403)
    yield "keliweb-empty-body", kw_("get-ticket", "")
    yield "keliweb-empty-body-open", kw_("open-ticket", "")
    yield "clientexec-empty-body-open", ce("POST", "/api/ticket", "", FORM)
    yield "clientexec-empty-json-open", ce("POST", "/api/ticket", "{}", JSON_CT)
    yield "clientexec-empty-body-reply", ce("POST", "/api/ticket/1/reply", "", FORM)
    yield "readydesk-empty-body", rd("", b"", "xml", method="POST")
    yield "whmcs-missing-action", wha("ticketid=1")
    yield "whmcs-empty-action", wha("action=&ticketid=1")
    yield "whmcs-nul-action", wha("action=Get%00Ticket&ticketid=1")
    yield "whmcs-action-trailing-nul", wha("action=GetTicket%00&ticketid=1")
    yield "whmcs-action-only-nul", wha("action=%00")
    yield "whmcs-action-xml-nul", wha("action=Get%00Ticket%01%0b", "xml")
    yield "whmcs-action-legacy-semicolon", wha("action=X;result=success;", "legacy")
    yield "whmcs-action-1mb", wha("action=" + "A" * 1_000_000)
    yield (
        "whmcs-action-json-nul",
        wh('{"action": "GetTicket\\u0000"}', "legacy", target=WHMCS + "?" + WHMCS_AUTH, headers=JSON_CT),
    )
    yield "readydesk-missing-action", rda("")
    yield "readydesk-nul-action", rda("action=get_tickets%00")
    yield "readydesk-action-1mb", rda("", "action=" + "a" * 1_000_000)
    for fields, label in (
        ("deptid=1&message=m&name=n&email=a%40example.com", "no-subject"),
        ("deptid=1&subject=&message=m&name=n&email=a%40example.com", "empty-subject"),
        ("deptid=1&subject=s&name=n&email=a%40example.com", "no-message"),
        ("subject=s&message=m&name=n&email=a%40example.com", "no-deptid"),
        ("deptid=1&subject=s&message=m&name=n&email=not-an-email", "bad-email"),
        ("deptid=1&subject=s&message=m&name=n&email=a%40example.com&priority=Urgent", "bad-priority"),
        ("deptid=1&subject=s&message=m&name=n&email=a%40example.com&created=9999-99-99", "bad-created"),
        ("deptid=1&subject=s&message=m&name=n&email=a%40example.com&attachments=eA%3D%3D", "attachments"),
    ):
        yield f"whmcs-openticket-{label}", wha(f"action=OpenTicket&{fields}")
        yield f"keliweb-openticket-{label}", kw_("open-ticket", fields)
    yield "whmcs-addticketreply-no-message", wha("action=AddTicketReply&ticketid=1")
    yield "whmcs-addticketnote-no-message", wha("action=AddTicketNote&ticketid=1")
    yield "whmcs-addclient-no-email", wha("action=AddClient&firstname=a&lastname=b")
    yield "whmcs-addclient-bad-email", wha("action=AddClient&firstname=a&lastname=b&email=a%0d%0a%40b")
    yield "whmcs-addcontact-no-client", wha("action=AddContact&email=x%40example.com")
    yield "whmcs-updateticket-bad-status", wha("action=UpdateTicket&ticketid=1&status=Hacked")
    yield "clientexec-open-empty-subject", ce("POST", "/api/ticket", "subject=&message=m&departmentid=1", FORM)
    yield (
        "clientexec-open-bad-priority",
        ce("POST", "/api/ticket", "subject=s&message=m&departmentid=1&priority=9", FORM),
    )
    yield "clientexec-put-bad-status", ce("PUT", "/api/ticket/1", "status=99", FORM)
    yield "clientexec-reply-empty-message", ce("POST", "/api/ticket/1/reply", "message=", FORM)
    yield "readydesk-add-no-subject", rda("action=add_ticket&summary=x")
    yield "readydesk-add-bad-email", rda("action=add_ticket&subject=s&summary=x&email=nope")
    yield "readydesk-add-bad-category", rda("action=add_ticket&subject=s&summary=x&category=..%2F1")
    yield "readydesk-update-no-tid", rda("action=update_ticket&subject=x")
    yield "readydesk-update-bad-status", rda("action=update_ticket&tid=1&status=Hacked")
    yield "readydesk-get-bad-date", rda("action=get_tickets&start_date=99%2F99%2F99999")
    yield "readydesk-get-bad-order", rda("action=get_tickets&order=tid%3BDROP%20TABLE")
    yield "readydesk-get-bad-count-only", rda("action=get_tickets&count_only=maybe")

    # ---- credentials: wrong, odd, oversize; always the dialect's auth error, no backend call ----
    yield "whmcs-bad-secret", wh("action=GetTicket&ticketid=1&identifier=demo&secret=wrong", status=403)
    yield "whmcs-secret-1mb", wh("action=GetTicket&ticketid=1&identifier=demo&secret=" + "s" * 1_000_000, status=403)
    yield "whmcs-username-md5-wrong", wh("action=GetTicket&username=demo&password=" + "0" * 32, status=403)
    yield "whmcs-secret-array", wh("action=GetTicket&identifier=demo&secret[]=demo-secret", status=403)
    yield "keliweb-no-auth", kw_("get-ticket", "ticketid=1", dict(FORM), status=401)
    yield (
        "keliweb-basic-auth",
        kw_("get-ticket", "ticketid=1", {**FORM, "Authorization": "Basic ZGVtbzpkZW1v"}, status=401),
    )
    yield "keliweb-bearer-empty", kw_("get-ticket", "ticketid=1", {**FORM, "Authorization": "Bearer "}, status=401)
    yield (
        "keliweb-token-in-body",
        kw_("get-ticket", "ticketid=1&token=demo-secret", {**FORM, "Authorization": "Bearer x"}, status=401),
    )
    yield "clientexec-no-key", ce("GET", "/api/ticket/1", nokey=True, status=401)
    yield "clientexec-bad-key", ce("GET", "/api/ticket/1?apikey=nope", nokey=True, status=401)
    yield (
        "clientexec-key-header-wrong",
        ce("GET", "/api/ticket/1", headers={"X-API-KEY": "nope"}, nokey=True, status=401),
    )
    yield "readydesk-bad-key", rd("key=nope&action=get_tickets")
    yield "readydesk-no-key-xml", rd("action=get_tickets", fmt="xml")
    yield "readydesk-no-key-url", rd("action=get_tickets", fmt="url")

    # ---- unknown routes and methods inside a dialect's namespace ----
    yield "keliweb-get-method", Case("keliweb", "GET", KELI + "get-ticket", b"", dict(BEARER))
    yield "keliweb-two-segments", kw_("get-ticket/extra", "ticketid=1")
    yield "clientexec-delete-ticket", ce("DELETE", "/api/ticket/1", status=404)
    yield "clientexec-patch-ticket", ce("PATCH", "/api/ticket/1", "status=-1", FORM, status=404)
    yield "clientexec-deep-tail", ce("GET", "/api/ticket/1/reply/../../../x", status=404)
    yield "clientexec-tickets-tail", ce("GET", "/api/tickets/1%2F..", status=404)

    # ---- overlong fields in legitimate writes: accepted correctly or a clear error ----
    yield (
        "whmcs-openticket-1mb-subject",
        wha(
            f"action=OpenTicket&deptid=1&subject={MB_TEXT}&message=m&name=n&email=a%40example.com",
            expect="any",
            backend=True,
            write=True,
        ),
    )
    yield (
        "keliweb-openticket-1mb-message",
        kw_(
            "open-ticket",
            f"deptid=1&subject=s&message={MB_TEXT}&name=n&email=a%40example.com",
            expect="any",
            backend=True,
            write=True,
        ),
    )
    yield (
        "clientexec-open-1mb-subject",
        ce(
            "POST",
            "/api/ticket",
            json.dumps({"subject": MB_TEXT, "message": "m", "departmentid": 1}),
            JSON_CT,
            expect="any",
            backend=True,
            write=True,
        ),
    )
    yield (
        "readydesk-add-1mb-summary",
        rda(
            "action=add_ticket",
            urlencode({"subject": "s", "summary": MB_TEXT}),
            expect="any",
            backend=True,
            write=True,
        ),
    )
    yield "whmcs-ticketid-1mb", wha("action=GetTicket&ticketid=" + "1" * 1_000_000)
    yield "clientexec-ticket-1mb-query", ce("GET", "/api/ticket", "ticket=" + "1" * 1_000_000, FORM)


# Bugs found by this suite and not fixed yet (case id -> what is wrong); remove an entry once fixed.
_DIALECTS = ("whmcs", "keliweb", "clientexec", "readydesk")
KNOWN_BUGS: dict[str, str] = {}


def _params() -> list[Any]:
    out = []
    seen: set[str] = set()
    for case_id, case in cases():
        assert case_id not in seen, case_id
        seen.add(case_id)
        marks = []
        if case_id in KNOWN_BUGS:
            marks.append(pytest.mark.xfail(reason=KNOWN_BUGS[case_id], strict=False))
        out.append(pytest.param(case, id=case_id, marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_hostile_input(hostile: HostileGateway, case: Case) -> None:
    judge(hostile, case)
