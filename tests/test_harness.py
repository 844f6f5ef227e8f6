"""The Red harness drives a real Red: prefix and slash commands, cog reloads, sent files."""

import io
import json
import sys

import discord
import pytest
from redbot.core import commands

import goals.goals as goals_module_of_this_test
from goals.goals import Goals as GoalsOfThisTest
from redharness import REPO_ROOT, slash_payload_problems, start_red, stop_red

# Only goals and reports are loaded here: goals answers that it needs kpitracker.
GOALS_ANSWER = (
    "Goals read their numbers from the KPITracker cog, which is not loaded; a bot owner can "
    "load it with `!load kpitracker`."
)
NO_REPORTS = "No report is scheduled on this server."


class Probe(commands.Cog):
    """Commands that exercise the harness itself."""

    @commands.hybrid_command(name="probe")
    async def probe(self, ctx: commands.Context, who: discord.Member, times: int = 1) -> None:
        """Answer with text, an embed and a file."""
        await ctx.send(
            f"{who.display_name} x{times}",
            embed=discord.Embed(title="Probe"),
            file=discord.File(io.BytesIO(b"probe bytes"), filename="probe.txt"),
        )

    @commands.command(name="size")
    async def size(self, ctx: commands.Context) -> None:
        """Answer with the size of the attached file."""
        data = await ctx.message.attachments[0].read()
        await ctx.send(f"{ctx.message.attachments[0].filename}: {len(data)} bytes")

    @commands.command(name="crash")
    async def crash(self, ctx: commands.Context) -> None:
        """Fail."""
        raise ValueError("the probe crashed")


@pytest.mark.cogs("goals", "reports")
async def test_prefix_commands_answer_in_the_channel(red):
    assert [reply.content for reply in await red.send("!goals")] == [GOALS_ANSWER]
    replies = await red.send("!reports", author=red.admin)
    assert [reply.content for reply in replies] == [NO_REPORTS]
    assert replies[0].channel_id == red.channel.id


@pytest.mark.cogs("goals", "reports")
async def test_slash_forms_answer_the_interaction(red):
    await red.enable_slash("goals", "reports")

    goals = await red.slash("goals list")
    reports = await red.slash("reports list", author=red.admin)

    assert [(reply.route, reply.content) for reply in goals] == [("response", GOALS_ANSWER)]
    assert [(reply.route, reply.content) for reply in reports] == [("response", NO_REPORTS)]


@pytest.mark.cogs("goals", "reports")
async def test_slash_payload_is_valid_for_discord(red):
    await red.enable_slash("goals", "reports")

    payload = red.slash_payload()

    assert {command["name"] for command in payload} == {"goals", "reports"}
    assert slash_payload_problems(payload) == []


def test_payload_checker_names_what_discord_rejects():
    payload = [
        {
            "name": "Goals",
            "description": "x" * 101,
            "options": [
                {"name": "a", "description": "optional", "type": 3, "required": False},
                {"name": "b", "description": "required", "type": 3, "required": True},
            ],
        }
    ]

    problems = slash_payload_problems(payload)

    assert len(problems) == 3
    assert "name" in problems[0] and "101 characters" in problems[1]
    assert "required after an optional" in problems[2]


@pytest.mark.cogs("goals")
async def test_a_cog_reloads_in_the_middle_of_a_test(red):
    first = red.bot.get_cog("Goals")

    await red.reload("goals")

    assert red.bot.get_cog("Goals") is not first
    assert [reply.content for reply in await red.send("!goals")] == [GOALS_ANSWER]


@pytest.mark.cogs("goals", "reports")
async def test_cogs_state_their_data_and_honour_deletion(red):
    for package in ("goals", "reports"):
        info = json.loads((REPO_ROOT / package / "info.json").read_text())
        statement = sys.modules[package].__red_end_user_data_statement__
        assert statement == info["end_user_data_statement"]

    outcome = await red.bot.handle_data_deletion_request(requester="user", user_id=red.member.id)

    assert not outcome.failed_cogs and not outcome.unhandled


async def test_replies_carry_text_embeds_and_file_bytes_on_both_routes(red):
    await red.bot.add_cog(Probe())
    await red.send("!slash enable probe", author=red.owner)

    [prefix] = await red.send(f"!probe {red.admin.id} 2")
    [slash] = await red.slash("probe", who=red.admin, times=3)

    for reply, times in ((prefix, 2), (slash, 3)):
        assert reply.content == f"{red.admin.display_name} x{times}"
        assert [embed.title for embed in reply.embeds] == ["Probe"]
        assert [(file.filename, file.data) for file in reply.files] == [
            ("probe.txt", b"probe bytes")
        ]


async def test_members_can_attach_files(red, tmp_path):
    await red.bot.add_cog(Probe())
    upload = tmp_path / "ledger.csv"
    upload.write_bytes(b"a,b\n1,2\n")

    replies = await red.send("!size", attachments=(upload,))

    assert [reply.content for reply in replies] == ["ledger.csv: 8 bytes"]


@pytest.mark.cogs("goals")
async def test_red_loads_its_own_copy_of_modules_a_test_imported(red):
    assert type(red.bot.get_cog("Goals")) is not GoalsOfThisTest
    assert goals_module_of_this_test.Goals is GoalsOfThisTest


async def test_a_crashing_command_fails_the_test_with_its_own_error(red):
    await red.bot.add_cog(Probe())

    with pytest.raises(ValueError, match="the probe crashed"):
        await red.send("!crash")


async def test_members_differ_by_manage_server(red):
    helper = red.make_member("Helper", permissions=discord.Permissions(manage_messages=True))

    assert red.admin.guild_permissions.manage_guild
    assert not red.member.guild_permissions.manage_guild
    assert helper.guild_permissions.manage_messages and not helper.guild_permissions.manage_guild
    assert await red.bot.is_owner(red.owner)


async def test_each_bot_starts_from_a_fresh_instance(tmp_path):
    first = await start_red(tmp_path / "first", [])
    await first.bot._config.fuzzy.set(True)
    await stop_red(first)

    second = await start_red(tmp_path / "second", [])
    try:
        assert await second.bot._config.fuzzy() is False
    finally:
        await stop_red(second)
