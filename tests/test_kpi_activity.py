"""Where activity comes from: import, the public API, bot events, Discord events, Economy."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from kpi_helpers import (
    HISTORY,
    history_rows,
    kpi_cog,
    ledger_count,
    live,
    plain,
    send_with_file,
    texts,
    utc,
)
from kpitracker.ledger import Kind, to_ms
from kpitracker.ledger_files import parse_ledger_file

pytestmark = pytest.mark.cogs("kpitracker")


async def test_import_twice_adds_nothing_the_second_time(red):
    cog = await kpi_cog(red)

    first = await send_with_file(red, "!kpi import", HISTORY)
    second = await send_with_file(red, "!kpi import", HISTORY)

    assert texts(first) == [
        "Imported 15,480 new rows from `cardano_stackexchange.csv`; 0 were already in the ledger."
    ]
    assert texts(second) == [
        "Imported 0 new rows from `cardano_stackexchange.csv`; 15,480 were already in the ledger."
    ]
    assert await ledger_count(cog, red.guild.id) == 15_480


async def test_a_malformed_file_is_rejected_whole(red, tmp_path):
    cog = await kpi_cog(red)
    lines = HISTORY.read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6].replace(",reward,1,", ",reward,abc,")
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(lines[:20]) + "\n", encoding="utf-8")

    replies = await send_with_file(red, "!kpi import", broken)

    assert texts(replies) == ['Nothing was imported: line 7: amount "abc" is not a number.']
    assert await ledger_count(cog, red.guild.id) == 0


async def test_ledger_export_round_trips_through_import(red, tmp_path):
    cog = await kpi_cog(red)
    await send_with_file(red, "!kpi import", HISTORY)

    replies = await red.send("!kpi export format:csv data:ledger", author=red.admin)

    (sent,) = replies[0].files
    assert sent.filename == f"kpi-ledger-{red.guild.id}.csv"
    assert plain(parse_ledger_file(sent.data, sent.filename, red.guild.id)) == plain(
        sorted(history_rows(red.guild.id), key=lambda row: row.ts_ms)
    )
    assert sent.data == live("ledger_files").ledger_to_csv(
        await cog.store.ledger_rows(red.guild.id)
    )

    november = await red.send(
        "!kpi export format:json data:ledger start_date:2021-11-01 end_date:2021-11-30",
        author=red.admin,
    )
    rows = parse_ledger_file(november[0].files[0].data, "november.json", red.guild.id)
    expected = [
        row
        for row in history_rows(red.guild.id)
        if to_ms(utc(2021, 11, 1)) <= row.ts_ms < to_ms(utc(2021, 12, 1))
    ]
    assert len(rows) == len(expected) and set(plain(rows)) == set(plain(expected))


async def test_public_api_records_and_refuses_invalid_rows(red):
    cog = await kpi_cog(red)
    guild, member = red.guild, red.member
    when = utc(2024, 2, 29, 12)

    await cog.record_claim(guild, member, 5, when=when)
    await cog.record_reward(guild, member.id, 10, "quest", when=when)
    await cog.record_spend(guild.id, member, 3, "shop", when=when)
    await cog.record_event(guild, member, "raid", when=when)
    await cog.record_voice(guild, member, when, 600)

    for call in (
        lambda: cog.record_reward(guild, member, 0, when=when),
        lambda: cog.record_event(guild, member, "", when=when),
        lambda: cog.record(guild, member, "dance", when=when),
        lambda: cog.record_claim(guild, "someone", when=when),
        lambda: cog.record_claim(guild, SimpleNamespace(id=5, bot=True), when=when),
        lambda: cog.record_claim(guild, member, float("nan"), when=when),
    ):
        with pytest.raises(live("ledger").LedgerError):
            await call()

    rows = await cog.store.ledger_rows(guild.id)
    ts = to_ms(when)
    assert plain(rows) == [
        (guild.id, member.id, ts, Kind.CLAIM, 5.0, ""),
        (guild.id, member.id, ts, Kind.REWARD, 10.0, "quest"),
        (guild.id, member.id, ts, Kind.SPEND, 3.0, "shop"),
        (guild.id, member.id, ts, Kind.EVENT, 0.0, "raid"),
        (guild.id, member.id, ts, Kind.VOICE, 600.0, ""),
    ]


async def test_bot_events_record_without_importing_the_cog(red):
    cog = await kpi_cog(red)
    when = utc(2024, 1, 1, 8)

    red.bot.dispatch("kpi_activity", red.guild, red.member, "claim", 7, None, when)
    red.bot.dispatch("kpi_activity", red.guild.id, red.member.id, "event", None, "boss", when)
    red.bot.dispatch("kpi_activity", red.guild, red.member, "reward", -1, None, when)
    rows = await _settled_rows(cog, red.guild.id, 2)
    assert [(row.kind, row.amount, row.detail) for row in rows] == [
        (Kind.CLAIM, 7.0, ""),
        (Kind.EVENT, 0.0, "boss"),
    ]


async def _settled_rows(cog, guild_id, expected):
    for _ in range(100):
        rows = await cog.store.ledger_rows(guild_id)
        if len(rows) >= expected:
            return rows
        await asyncio.sleep(0.01)
    return await cog.store.ledger_rows(guild_id)


async def test_joins_leaves_and_voice_sessions_from_discord(red):
    cog = await kpi_cog(red, now=utc(2024, 3, 1, 20))
    newcomer = red.make_member("Newcomer")  # dpytest announces the join, as Discord does
    robot = red.make_member("Robot")
    robot._user.bot = True
    red.bot.dispatch("member_join", robot)
    stage, lounge = SimpleNamespace(id=1), SimpleNamespace(id=2)
    off = SimpleNamespace(channel=None)
    await cog.on_voice_state_update(newcomer, off, SimpleNamespace(channel=stage))
    cog.clock = lambda: utc(2024, 3, 1, 20, 30)
    await cog.on_voice_state_update(
        newcomer, SimpleNamespace(channel=stage), SimpleNamespace(channel=lounge)
    )
    cog.clock = lambda: utc(2024, 3, 1, 21, 15)
    await cog.on_voice_state_update(newcomer, SimpleNamespace(channel=lounge), off)
    red.bot.dispatch("member_remove", newcomer)

    rows = await _settled_rows(cog, red.guild.id, 3)
    assert [(row.user_id, row.kind, row.amount) for row in rows] == [
        (newcomer.id, Kind.JOIN, 0.0),
        (newcomer.id, Kind.VOICE, 75 * 60.0),  # one session across the move, 20:00 to 21:15
        (newcomer.id, Kind.LEAVE, 0.0),
    ]


async def test_voice_session_open_across_a_restart(red):
    cog = await kpi_cog(red, now=utc(2024, 3, 1, 20))
    speaker = red.make_member("Speaker")
    await cog.on_voice_state_update(
        speaker, SimpleNamespace(channel=None), SimpleNamespace(channel=SimpleNamespace(id=1))
    )
    cog.clock = lambda: utc(2024, 3, 1, 20, 40)

    await red.reload("kpitracker")  # the speaker left while the bot was away
    cog = await kpi_cog(red, now=utc(2024, 3, 1, 22))
    await cog.resume_voice_sessions()

    rows = await cog.store.ledger_rows(red.guild.id)
    assert [(row.kind, row.ts_ms, row.amount) for row in rows if row.kind == Kind.VOICE] == [
        (Kind.VOICE, to_ms(utc(2024, 3, 1, 20)), 40 * 60.0)
    ]
    assert await cog.store.open_voice_sessions() == []


async def test_economy_payday_counts_as_a_claim_once_per_cooldown(red):
    await red.load("economy")
    cog = await kpi_cog(red)
    await red.send("!kpi economy enabled:true", author=red.admin)

    first = await red.send("!payday", author=red.member)
    refused = await red.send("!payday", author=red.member)

    assert "Here, take some" in first[0].content and "Too soon" in refused[0].content
    rows = await cog.store.ledger_rows(red.guild.id)
    assert [(row.user_id, row.kind, row.amount, row.detail) for row in rows] == [
        (red.member.id, Kind.CLAIM, 120.0, "economy:payday")
    ]


async def test_economy_payday_is_ignored_until_switched_on(red):
    await red.load("economy")
    cog = await kpi_cog(red)
    await red.send("!payday", author=red.member)
    assert await ledger_count(cog, red.guild.id) == 0


async def test_data_deletion_removes_every_row_of_the_user(red):
    cog = await kpi_cog(red)
    await send_with_file(red, "!kpi import", HISTORY)
    at = to_ms(utc(2021, 11, 19))
    before = await cog.store.metrics(red.guild.id, at, 7)
    rows = history_rows(red.guild.id)
    busiest = max(
        {row.user_id for row in rows}, key=lambda user: sum(r.user_id == user for r in rows)
    )

    await cog.red_delete_data_for_user(requester="user_strict", user_id=busiest)

    remaining = await cog.store.ledger_rows(red.guild.id)
    assert busiest not in {row.user_id for row in remaining}
    assert len(remaining) == len(rows) - sum(row.user_id == busiest for row in rows)
    from reference_metrics import reference_metrics

    after = await cog.store.metrics(red.guild.id, at, 7)
    expected = reference_metrics([row for row in rows if row.user_id != busiest], at, 7)
    assert after == pytest.approx(expected)
    assert after != before


async def test_unloading_leaves_no_thread_task_or_database_open(red):
    cog = await kpi_cog(red)
    await cog.record_claim(red.guild, red.member, when=utc(2024, 1, 1))
    store = cog.store

    await red.unload("kpitracker")

    threads = {store._writer._thread, store._reader._thread}
    assert not any(thread.is_alive() for thread in threads)
    assert not [task for task in asyncio.all_tasks() if task.get_name().startswith("kpitracker")]
    assert not cog.snapshot_loop.is_running()
    await red.load("kpitracker")
    cog = await kpi_cog(red)
    assert await ledger_count(cog, red.guild.id) == 1


async def test_invalid_bot_events_are_logged_and_dropped(red, caplog):
    import logging

    cog = await kpi_cog(red)
    when = utc(2024, 1, 1, 8)
    with caplog.at_level(logging.WARNING, logger="red.kpicogs.kpitracker"):
        red.bot.dispatch("kpi_activity", red.guild, red.member, 99, None, None, when)
        red.bot.dispatch("kpi_activity", red.guild, red.member, None)
        red.bot.dispatch("kpi_activity", red.guild, red.member, "claim", 1, "", when, "extra")
        red.bot.dispatch("kpi_activity", red.guild, red.member, "claim", 1, None, when)
        await _settled_rows(cog, red.guild.id, 1)

    assert caplog.text.count("Dropped a kpi_activity event") == 3
    assert "Traceback" not in caplog.text
    assert plain(await cog.store.ledger_rows(red.guild.id)) == [
        (red.guild.id, red.member.id, to_ms(when), Kind.CLAIM, 1.0, "")
    ]


async def test_deletion_waits_for_rows_still_queued(red):
    cog = await kpi_cog(red)
    when = utc(2024, 1, 1, 8)
    for number in range(50):
        await cog.record_event(red.guild, red.member, f"event {number}", when=when)
    red.bot.dispatch("kpi_activity", red.guild, red.member, "event", None, "late", when)
    await asyncio.sleep(0)  # the listener queues its row without waiting for the disk

    await cog.red_delete_data_for_user(requester="user", user_id=red.member.id)

    assert await ledger_count(cog, red.guild.id) == 0


async def test_recording_after_unload_says_the_cog_is_not_loaded(red):
    cog = await kpi_cog(red)
    await red.unload("kpitracker")
    with pytest.raises(ValueError, match="not loaded"):
        await cog.record_claim(red.guild, red.member)


async def test_the_same_live_activity_twice_is_two_activities(red):
    cog = await kpi_cog(red)
    when = utc(2024, 5, 1, 12)
    for _ in range(2):
        await cog.record_reward(red.guild, red.member, 1, "badge:bronze", when=when)
        await cog.record_event(red.guild, red.member, "raid", when=when)
    await asyncio.gather(
        *(cog.record_event(red.guild, red.member, "raid", when=when) for _ in range(3))
    )

    rows = plain(await cog.store.ledger_rows(red.guild.id))

    assert (
        rows.count((red.guild.id, red.member.id, to_ms(when), Kind.REWARD, 1.0, "badge:bronze"))
        == 2
    )
    assert rows.count((red.guild.id, red.member.id, to_ms(when), Kind.EVENT, 0.0, "raid")) == 5
    values = await cog.store.metrics(red.guild.id, to_ms(utc(2024, 5, 2)), 7)
    assert values["triggered_event_rate"] == pytest.approx(5 / 7)
