import json
from pathlib import Path

with open(Path(__file__).parent / "info.json", encoding="utf-8") as info:
    __red_end_user_data_statement__ = json.load(info)["end_user_data_statement"]


async def setup(bot) -> None:
    # Imported here so that `python -m kpitracker` works without a bot's dependencies loaded.
    from .kpitracker import KPITracker

    await bot.add_cog(KPITracker(bot))
