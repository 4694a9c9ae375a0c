"""The vendor-neutral demo data file and its loader."""

from __future__ import annotations

from gateway.demo import DemoData, load_demo


def test_demo_loads_and_is_consistent() -> None:
    demo = load_demo()
    assert isinstance(demo, DemoData)
    dept_ids = {d.id for d in demo.departments}
    staff_ids = {s.id for s in demo.staff}
    customer_ids = {c.id for c in demo.customers}
    contacts = {c.id: c for c in demo.contacts}
    assert [t.id for t in demo.tickets] == [1, 2, 3, 4, 5, 6]
    assert len(demo.staff) >= 3 and all(s.username for s in demo.staff)
    assert dept_ids - {t.department_id for t in demo.tickets}, "a department no ticket uses"
    assert any(t.staff_id for t in demo.tickets), "a ticket opened by staff"
    for t in demo.tickets:
        assert t.department_id in dept_ids
        assert t.staff_id == 0 or t.staff_id in staff_ids
        if t.customer_id == 0:
            assert t.contact_id == 0 and t.email and t.name
        else:
            assert t.customer_id in customer_ids and contacts[t.contact_id].customer_id == t.customer_id
        for r in t.replies:
            assert r.created_at >= t.created_at
            assert (r.author.kind == "staff") == (r.author.staff_id in staff_ids)
        for n in t.notes:
            assert n.staff_id in staff_ids
    kinds = {r.author.kind for t in demo.tickets for r in t.replies}
    assert kinds == {"staff", "customer", "guest"}
    reply_ids = [r.id for t in demo.tickets for r in t.replies]
    assert len(reply_ids) == len(set(reply_ids))


def test_demo_is_cached_and_immutable() -> None:
    assert load_demo() is load_demo()
