"""/metrics: what operators scrape, bounded whatever clients send."""

from __future__ import annotations

from tests.conftest import Gateway


async def test_requests_errors_and_backend_calls_are_counted(gateway: Gateway) -> None:
    await gateway.whmcs("GetTicket", ticketid="1")
    await gateway.whmcs("GetTicket", ticketid="999")
    async with gateway.session.get(gateway.url + "/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    assert 'gateway_requests_total{action="GetTicket",dialect="whmcs",result="success"} 1.0' in text
    assert 'gateway_requests_total{action="GetTicket",dialect="whmcs",result="error"} 1.0' in text
    assert 'gateway_errors_total{action="GetTicket",dialect="whmcs",kind="not_found"} 1.0' in text
    assert 'gateway_backend_seconds_count{method="GET",status="200"}' in text
    assert "gateway_breaker_open 0.0" in text


async def test_client_chosen_action_names_never_become_labels(gateway: Gateway) -> None:
    for i in range(20):
        await gateway.whmcs(f"Made-Up-{i}")
    async with gateway.session.get(gateway.url + "/metrics") as resp:
        text = await resp.text()
    assert "Made-Up" not in text
    assert 'gateway_requests_total{action="-",dialect="whmcs",result="error"} 20.0' in text
