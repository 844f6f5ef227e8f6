"""`python -m kpitracker metrics --ledger FILE --at INSTANT --period week`: metrics offline.

Prints every metric's value at the instant as one JSON object, computed by the code the cog
uses, for anyone who has an exported ledger and no bot.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from .catalogue import PERIOD_DAYS
from .ledger_files import LedgerFileError, parse_ledger_file
from .metrics import metrics_for_rows

OFFLINE_SERVER_ID = 1


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time; write it like 2021-11-19T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add Z for UTC")
    return moment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kpitracker", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    metrics = commands.add_parser("metrics", help="print every metric at an instant as JSON")
    metrics.add_argument("--ledger", required=True, type=Path, help="a CSV or JSON ledger file")
    metrics.add_argument("--at", required=True, type=_instant, help="e.g. 2021-11-19T00:00:00Z")
    metrics.add_argument("--period", default="week", choices=list(PERIOD_DAYS))
    arguments = parser.parse_args(argv)

    try:
        data = arguments.ledger.read_bytes()
    except OSError as error:
        parser.exit(2, f"error: cannot read {arguments.ledger}: {error.strerror}\n")
    try:
        rows = parse_ledger_file(data, arguments.ledger.name, OFFLINE_SERVER_ID)
    except LedgerFileError as error:
        parser.exit(2, f"error: {arguments.ledger}: {error}\n")
    values = metrics_for_rows(rows, arguments.at, arguments.period)
    json.dump(values, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
