"""Red's Downloader installs and loads this repository's cogs from a git clone of the work tree."""

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from redbot.core import data_manager

from redharness import REPO_ROOT, cog_packages, start_red, stop_red

AGREEMENT_PROMPT = "By typing"


def snapshot_repository(destination: Path) -> Path:
    """Commit the work tree's tracked and untracked, not ignored, files to a new git repository,
    so the test sees what the next commit would contain rather than the last one."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=destination, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=Harness", "-c", "user.email=harness@localhost", "commit", "-qm", "snap")
    return destination


async def reply_containing(red, text: str, seconds: float = 10) -> None:
    """Wait until the bot has sent a message containing `text`."""
    for _ in range(int(seconds / 0.05)):
        if any(text in reply.content for reply in red.sent):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no reply contains {text!r}: {red.sent}")


@pytest.fixture
async def installer(tmp_path):
    """Red with no cog path into the repository: cogs can only come from the Downloader."""
    harness = await start_red(tmp_path / "red", cog_paths=[])
    try:
        yield harness
    finally:
        await stop_red(harness)


async def test_downloader_installs_and_loads_every_cog(installer, tmp_path):
    red = installer
    packages = cog_packages()
    repository = snapshot_repository(tmp_path / "snapshot")
    await red.load("downloader")

    adding = asyncio.create_task(
        red.send(f"!repo add kpi {repository.as_uri()}", author=red.owner)
    )
    await reply_containing(red, AGREEMENT_PROMPT)
    await red.send("I agree", author=red.owner)
    added = await asyncio.wait_for(adding, 60)
    assert any("Repo `kpi` successfully added." in reply.content for reply in added), added

    installed = await red.send(f"!cog install kpi {' '.join(packages)}", author=red.owner)
    summary = "\n".join(reply.content for reply in installed)
    assert "Successfully installed" in summary, summary

    loaded = await red.send(f"!load {' '.join(packages)}", author=red.owner)
    assert "Loaded" in loaded[0].content, loaded

    install_path = data_manager.cog_data_path(raw_name="CogManager") / "cogs"
    for package in packages:
        module = sys.modules[package]
        assert Path(module.__file__).is_relative_to(install_path), module.__file__
    assert set(packages) <= set(red.bot.extensions)
    assert red.bot.get_cog("Goals") is not None
    assert red.bot.get_cog("Reports") is not None
