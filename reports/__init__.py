import json
from pathlib import Path

from redbot.core.bot import Red

from .reports import Reports

with open(Path(__file__).parent / "info.json", encoding="utf-8") as info_file:
    __red_end_user_data_statement__ = json.load(info_file)["end_user_data_statement"]


async def setup(bot: Red) -> None:
    await bot.add_cog(Reports(bot))
