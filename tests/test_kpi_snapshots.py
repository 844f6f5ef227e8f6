"""The nightly snapshot job: once per server and day, missed days filled, failures isolated."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

import pytest
import time_machine
from discord.ext.test import backend

from kpi_helpers import HISTORY, history_rows, kpi_cog, send_with_file, utc
from kpitracker.ledger import to_ms
from reference_metrics import reference_metrics

pytestmark = pytest.mark.cogs("kpitracker")


async def _history_with_kpis(red, now):
    cog = await kpi_cog(red, now=now)
    await send_with_file(red, "!kpi import", HISTORY)
    await red.send("!kpi set metric:dau target:30", author=red.admin)
    await red.send("!kpi set metric:streak_retention target:40 period:month", author=red.admin)
    await red.send("!kpi set metric:churn target:50", author=red.admin)
    await red.send("!kpi disable metric:churn", author=red.admin)
    return cog


async def test_each_day_once_with_missed_days_filled(red):
    cog = await _history_with_kpis(red, now=utc(2021, 11, 19, 0, 0, 5))

    assert await cog.write_snapshots() == {red.guild.id: 1}  # the day that just ended
    assert await cog.write_snapshots() == {red.guild.id: 0}  # run twice: nothing new

    cog.clock = lambda: utc(2021, 11, 23, 0, 0, 5)  # the bot was down for three nights
    assert await cog.write_snapshots() == {red.guild.id: 4}
    with time_machine.travel(utc(2021, 11, 23, 9), tick=False):  # the restart's own catch-up
        await red.reload("kpitracker")
        cog = await kpi_cog(red)
        assert await cog.write_snapshots() == {red.guild.id: 0}

    snapshots = await cog.store.snapshots(red.guild.id)
    assert [snapshot.snapshot_date for snapshot in snapshots] == [
        "2021-11-18",
        "2021-11-19",
        "2021-11-20",
        "2021-11-21",
        "2021-11-22",
    ]
    rows = history_rows(red.guild.id)
    for snapshot in snapshots:
        end = date.fromisoformat(snapshot.snapshot_date) + timedelta(days=1)
        at = to_ms(utc(end.year, end.month, end.day))
        week, month = reference_metrics(rows, at, 7), reference_metrics(rows, at, 30)
        kpis = snapshot.metrics["kpis"]
        assert set(kpis) == {"daily_active_users", "streak_retention"}  # churn is disabled
        assert kpis["daily_active_users"]["value"] == week["daily_active_users"]
        assert kpis["daily_active_users"]["achieved"] is (week["daily_active_users"] >= 30)
        assert kpis["streak_retention"]["value"] == pytest.approx(month["streak_retention"])
        assert kpis["streak_retention"]["target"] == 40
        assert snapshot.metrics["values"] == pytest.approx(week)
        assert snapshot.metrics["stats"]["users_seen"] == len(
            {row.user_id for row in rows if row.ts_ms < at}
        )


async def test_a_day_with_no_data_is_stored_as_no_data(red):
    cog = await kpi_cog(red, now=utc(2030, 1, 2, 0, 0, 5))
    await red.send("!kpi set metric:dau target:30", author=red.admin)
    await red.send("!kpi set metric:streak_retention target:40", author=red.admin)

    assert await cog.write_snapshots() == {red.guild.id: 1}

    (snapshot,) = await cog.store.snapshots(red.guild.id)
    assert snapshot.snapshot_date == "2030-01-01"
    assert snapshot.metrics["kpis"]["daily_active_users"]["value"] is None
    assert snapshot.metrics["kpis"]["daily_active_users"]["achieved"] is None
    assert set(snapshot.metrics["values"].values()) == {None}


async def test_one_failing_server_does_not_stop_the_others(red, caplog):
    cog = await _history_with_kpis(red, now=utc(2021, 11, 19, 0, 0, 5))
    other = backend.make_guild("Other Guild")
    await cog.record_claim(other, red.member.id, 5, when=utc(2021, 11, 18, 12))
    real_metrics = cog.store.metrics

    async def broken_for_the_first_guild(server_id, at_ms, days):
        if server_id == red.guild.id:
            raise RuntimeError("disk on fire")
        return await real_metrics(server_id, at_ms, days)

    cog.store.metrics = broken_for_the_first_guild
    with caplog.at_level(logging.WARNING, logger="red.kpicogs.kpitracker.snapshots"):
        written = await cog.write_snapshots()

    assert red.guild.id not in written and written[other.id] == 1
    assert f"Skipped the snapshot of guild {red.guild.id}" in caplog.text
    cog.store.metrics = real_metrics
    assert (await cog.write_snapshots())[red.guild.id] == 1


async def test_the_loop_runs_at_midnight_utc(red):
    cog = await kpi_cog(red)
    assert cog.snapshot_loop.is_running()
    assert [moment.isoformat() for moment in cog.snapshot_loop.time] == ["00:00:05+00:00"]


async def test_snapshot_history_exports_as_a_table(red):
    cog = await _history_with_kpis(red, now=utc(2021, 11, 21, 0, 0, 5))
    await cog.write_snapshots()

    replies = await red.send("!kpi export format:json start_date:2021-11-20", author=red.admin)

    records = json.loads(replies[0].files[0].data)
    assert [(record["snapshot_date"], record["metric"]) for record in records] == [
        ("2021-11-20", "daily_active_users"),
        ("2021-11-20", "streak_retention"),
    ]
    assert records[0]["server_id"] == str(red.guild.id)
    csv_reply = await red.send("!kpi export format:csv", author=red.admin)
    text = csv_reply[0].files[0].data.decode("utf-8-sig")
    assert text.splitlines()[0] == (
        "server_id,snapshot_date,snapshot_type,metric,value,target,period,achieved"
    )
    assert f"{red.guild.id},2021-11-20,daily,daily_active_users," in text
