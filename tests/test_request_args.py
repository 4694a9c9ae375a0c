"""The request's argument model reused for the same parameters (gateway.request_args) against
the path it skips: every action's params mapping and build_args, run afresh."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from pydantic import BaseModel

from gateway import operations as ops
from gateway import request_args
from gateway.app import zone_config
from gateway.errors import GatewayError
from gateway.mapping import compiler
from gateway.mapping.loader import ActionSpec, MappingSet, load_mappings
from gateway.mapping.transforms import unmapped_seen
from gateway.request_args import args_for
from gateway.service import build_args
from gateway.settings import Settings


@pytest.fixture(scope="module")
def mappings() -> MappingSet:
    return load_mappings(None, zone_config(Settings()))


@pytest.fixture(autouse=True)
def fresh_memo() -> Iterator[None]:
    request_args.clear()
    yield
    request_args.clear()


# values clients send, right and wrong (all text, as read_form gives them, and a few that are not)
VALUES: list[Any] = ["1", "0", "-5", "", " 7 ", "abc", "1e3", "DESC", "desc", "Open", "Bogus", "x" * 300, "٣"]


def _param_sets(spec: ActionSpec) -> list[dict[str, Any]]:
    names = sorted({*_read_names(spec), "action", "responsetype"})
    out: list[dict[str, Any]] = [{}, {"action": spec.name, "responsetype": "json"}]
    for name in names:
        out += [{"action": spec.name, name: v} for v in VALUES]
    out.append({n: VALUES[i % len(VALUES)] for i, n in enumerate(names)})
    out.append({"action": spec.name, "ticketid": ["1", "2"]})  # a PHP list parameter
    out.append({"action": spec.name, "ticketid": 1})  # not text (a tool's own call)
    return out


def _read_names(spec: ActionSpec) -> list[str]:
    """The client parameters an action's mapping reads (its failure probes name them)."""
    probes = getattr(spec.params, "__globals__", {}).get("_probes", ())
    return [str(src) for _, src, _ in probes if isinstance(src, str)]


def _afresh(spec: ActionSpec, params: dict[str, Any]) -> BaseModel | tuple[type[Exception], str, dict[str, Any]]:
    try:
        return build_args(spec.operation, spec.params(params))
    except GatewayError as exc:
        return type(exc), exc.message, exc.details


def _memoised(spec: ActionSpec, params: dict[str, Any]) -> BaseModel | tuple[type[Exception], str, dict[str, Any]]:
    try:
        return args_for(spec, params)
    except GatewayError as exc:
        return type(exc), exc.message, exc.details


def test_every_action_gets_the_model_its_mapping_and_build_args_give(mappings: MappingSet) -> None:
    checked = 0
    for vendor in mappings.vendors.values():
        for spec in vendor.actions.values():
            for params in _param_sets(spec):
                expected = _afresh(spec, params)
                # first (kept, where it may be) and second (from the memo) call alike
                for _ in range(2):
                    got = _memoised(spec, params)
                    assert got == expected, (spec.name, params)
                    assert type(got) is type(expected)
                    if isinstance(got, BaseModel):
                        assert got.model_dump() == expected.model_dump()  # type: ignore[union-attr]
                checked += 1
    assert checked > 1000


def test_the_same_parameters_get_the_same_frozen_model_and_others_their_own(mappings: MappingSet) -> None:
    spec = mappings["whmcs"].actions["GetTicket"]
    first = args_for(spec, {"action": "GetTicket", "ticketid": "1", "responsetype": "json"})
    again = args_for(spec, {"action": "GetTicket", "ticketid": "1", "responsetype": "json"})
    assert again is first
    other = args_for(spec, {"action": "GetTicket", "ticketid": "2", "responsetype": "json"})
    assert other is not first and other.ticket_id == 2  # type: ignore[attr-defined]
    # the same items in another order: a key of its own, the same model's values
    swapped = args_for(spec, {"ticketid": "1", "action": "GetTicket", "responsetype": "json"})
    assert swapped == first


def test_a_refusal_is_never_kept(mappings: MappingSet) -> None:
    spec = mappings["whmcs"].actions["GetTicket"]
    for _ in range(3):
        with pytest.raises(GatewayError) as caught:
            args_for(spec, {"action": "GetTicket", "ticketid": "abc"})
        assert caught.value.code == "invalid_input" or caught.value.details.get("field") == "ticketid"
    assert not request_args._MEMO


def test_parameters_that_are_not_short_text_are_mapped_every_time(mappings: MappingSet) -> None:
    spec = mappings["whmcs"].actions["GetTicket"]
    calls: list[dict[str, Any]] = []

    def counted(params: dict[str, Any]) -> Any:
        calls.append(params)
        return spec.params(params)

    probe = replace(spec, params=counted)
    for params in (
        {"ticketid": "1", "list[]": ["a"]},  # unhashable
        {"ticketid": 1},  # an int: 1 == 1.0 == True must not share a key
        {"ticketid": "1", "note": "x" * (request_args.SHORT + 1)},
    ):
        for _ in range(2):
            assert args_for(probe, params) == _afresh(spec, params)
    assert len(calls) == 6
    assert not request_args._MEMO


def test_true_and_one_do_not_meet_in_the_memo(mappings: MappingSet) -> None:
    spec = mappings["whmcs"].actions["GetTicket"]
    kept = args_for(spec, {"ticketid": "1"})
    assert args_for(spec, {"ticketid": 1}) == kept  # mapped afresh: the same values
    # a key with True hashes as a key with 1 would: never the text's entry
    assert (spec.params, spec.operation, ("ticketid", True)) not in request_args._MEMO


def test_an_unmapped_value_is_counted_on_every_request(mappings: MappingSet) -> None:
    for vendor in mappings.vendors.values():
        for spec in vendor.actions.values():
            for name in _read_names(spec):
                params = {name: "NoSuchValue-zz"}
                before = unmapped_seen()
                try:
                    build_args(spec.operation, spec.params(params))
                except GatewayError:
                    continue
                per_call = unmapped_seen() - before
                if not per_call:
                    continue
                for _ in range(3):
                    before = unmapped_seen()
                    with contextlib.suppress(GatewayError):
                        args_for(spec, params)
                    assert unmapped_seen() - before == per_call
                return
    pytest.skip("no params mapping counts unmapped values")


def test_a_volatile_mapping_is_never_kept(mappings: MappingSet) -> None:
    spec = mappings["whmcs"].actions["GetTicket"]
    calls = []

    def clocked(params: dict[str, Any]) -> Any:
        calls.append(1)
        return spec.params(params)

    compiler._VOLATILE.add(clocked)
    probe = replace(spec, params=clocked)
    for _ in range(3):
        args_for(probe, {"ticketid": "1"})
    assert len(calls) == 3


def test_a_model_that_is_not_frozen_is_never_shared(mappings: MappingSet) -> None:
    unfrozen = [
        s
        for v in mappings.vendors.values()
        for s in v.actions.values()
        if not ops.OPERATIONS[s.operation].args.model_config.get("frozen")
    ]
    for spec in unfrozen:
        first, second = _memoised(spec, {}), _memoised(spec, {})
        if isinstance(first, BaseModel):
            assert first is not second
    assert not request_args._MEMO or all(v.model_config.get("frozen") for v in request_args._MEMO.values())


def test_a_reloaded_mapping_does_not_meet_the_models_of_the_one_before(mappings: MappingSet) -> None:
    spec = mappings["whmcs"].actions["GetTicket"]
    args_for(spec, {"ticketid": "1"})
    reloaded = load_mappings(None, zone_config(Settings()))["whmcs"].actions["GetTicket"]
    calls = []

    def mapped(params: dict[str, Any]) -> Any:
        calls.append(1)
        return reloaded.params(params)

    probe = replace(reloaded, params=mapped)
    for _ in range(2):
        assert args_for(probe, {"ticketid": "1"}) == args_for(spec, {"ticketid": "1"})
    assert calls == [1]  # the new mapping's own run, then its own entry


def test_the_memo_is_bounded(mappings: MappingSet) -> None:
    spec = mappings["whmcs"].actions["GetTicket"]
    for i in range(request_args.MEMO_SIZE + 10):
        assert args_for(spec, {"ticketid": str(i + 1)}).ticket_id == i + 1  # type: ignore[attr-defined]
    assert len(request_args._MEMO) <= request_args.MEMO_SIZE
