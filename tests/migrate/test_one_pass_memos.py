"""A migration's PMP adapter keeps small read memos: each record is read once or twice, not polled."""

from __future__ import annotations

import aiohttp

from gateway.backends.pmp import PMPBackend
from gateway.mapping.loader import PACKAGED_ROOT, load_mappings
from gateway.migrate import command, config
from gateway.store import MemoryStore


async def test_the_migration_adapter_holds_a_few_records_not_a_thousand() -> None:
    maps = load_mappings(roots=[PACKAGED_ROOT])
    side = config.Side(kind="pmp", url="http://127.0.0.1:9/", token="t")
    async with aiohttp.ClientSession() as session:
        migrating = command._build(side, maps, MemoryStore(), session)
        serving = PMPBackend(side.url, side.token, maps["pmp"], MemoryStore(), session=session)
    assert isinstance(migrating, PMPBackend)
    assert migrating._wire._memo_size == command.ONE_PASS_MEMOS["read_memo_size"]
    assert migrating._rows.maxsize == command.ONE_PASS_MEMOS["row_memo_size"]
    assert serving._wire._memo_size > migrating._wire._memo_size  # serve keeps its polling memos
    # the vendor's other settings are untouched
    other = {k: v for k, v in maps["pmp"].settings.items() if k not in command.ONE_PASS_MEMOS}
    assert {k: migrating._settings[k] for k in other} == other
