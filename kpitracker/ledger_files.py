"""Ledger files: reading an uploaded activity history, and writing ledgers and tables to files.

The ledger format is the shared activity history's: columns `ts,user_id,kind,amount,detail` as
CSV, or the same keys as JSON. Export writes exactly what import reads, so a ledger survives an
export and re-import unchanged. Nothing here knows Discord: a command fetches the attachment,
calls one function, and sends the result or the error's message.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import re
import zipfile
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import PurePath

import pandas as pd

from .ledger import Kind, LedgerError, LedgerRow, make_row

MAX_IMPORT_BYTES = 25 * 1024 * 1024
MAX_IMPORT_ROWS = 1_000_000

COLUMNS = ("ts", "user_id", "kind", "amount", "detail")
REQUIRED_COLUMNS = ("ts", "user_id", "kind")
_COLUMN_LIST = ", ".join(COLUMNS)
TS_EXAMPLE = "2021-04-27T14:50:43.050Z"

# A spreadsheet reads a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Integers from here on lose digits as JSON numbers in JavaScript and as spreadsheet numbers.
EXACT_INTEGER_LIMIT = 2**53

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ID_DIGITS = re.compile(r"-?[0-9]{1,20}")
_QUOTED_FORMULA = re.compile(r"'+[=+\-@\t\r]")
_NO_AMOUNT = (Kind.JOIN, Kind.LEAVE, Kind.EVENT)


class LedgerFileError(LedgerError):
    """An uploaded ledger file that cannot be imported; the message says where and why."""


class ExportTooLargeError(ValueError):
    """An export that does not fit in one upload, even zipped."""


# Import ---------------------------------------------------------------------------------------


def parse_ledger_file(data: bytes, filename: str, server_id: int) -> list[LedgerRow]:
    """Read a .csv or .json ledger file into checked rows for `server_id`, all or nothing.

    CSV needs a header naming `ts`, `user_id` and `kind`, with `amount` and `detail` optional,
    in any order. JSON is a list of objects with those keys, or `{"rows": [...]}`. Raises
    `LedgerFileError`, one sentence naming the line (CSV, the header is line 1) or the row
    (JSON, counted from 1) of the first problem; nothing is returned when one row is wrong.
    """
    suffix = PurePath(filename).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise LedgerFileError(
            f'cannot read "{_show(filename)}": upload a .csv or .json file with the columns '
            f"{_COLUMN_LIST}"
        )
    if len(data) > MAX_IMPORT_BYTES:
        raise LedgerFileError(
            f"the file is {_size(len(data))}, over the import limit of "
            f"{_size(MAX_IMPORT_BYTES)}; split it into smaller files"
        )

    text = _decode(data)
    if not text.strip():
        raise LedgerFileError("the file is empty; it needs a header and at least one row")

    rows = _parse_csv(text, server_id) if suffix == ".csv" else _parse_json(text, server_id)
    if not rows:
        raise LedgerFileError("the file has no rows to import")
    return rows


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise LedgerFileError(
            f"line {line}: the file is not UTF-8 text; save it as CSV UTF-8"
        ) from None


def _parse_csv(text: str, server_id: int) -> list[LedgerRow]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[LedgerRow] = []
    line = 1
    try:
        header = next(reader)
        positions = _column_positions(header)
        line = reader.line_num + 1
        for cells in reader:
            if cells:
                if len(rows) == MAX_IMPORT_ROWS:
                    raise _too_many_rows()
                rows.append(_csv_row(cells, positions, len(header), line, server_id))
            line = reader.line_num + 1
    except csv.Error as error:
        reason = "a quoted cell is never closed" if "end of data" in str(error) else error
        raise LedgerFileError(f"line {line}: the row is not valid CSV ({reason})") from None
    return rows


def _column_positions(header: list[str]) -> dict[str, int]:
    names = [name.strip().lower() for name in header]
    if not set(names) & set(COLUMNS):
        raise LedgerFileError(
            "line 1: the file has no header; its first line must name the columns "
            + ",".join(COLUMNS)
        )
    try:
        _check_names(names, "column")
    except LedgerError as error:
        raise LedgerFileError(f"line 1: {error}") from None
    return {name: position for position, name in enumerate(names)}


def _check_names(names: list[str], noun: str) -> None:
    for position, name in enumerate(names):
        if name not in COLUMNS:
            raise LedgerError(
                f'unknown {noun} "{_show(str(name))}"; the {noun}s are {_COLUMN_LIST}'
            )
        if name in names[:position]:
            raise LedgerError(f'the {noun} "{name}" appears twice')

    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        if len(missing) == 1:
            raise LedgerError(f"the {noun} {missing[0]} is missing")
        raise LedgerError(f"the {noun}s {' and '.join(missing)} are missing")


def _csv_row(
    cells: list[str], positions: dict[str, int], width: int, line: int, server_id: int
) -> LedgerRow:
    if len(cells) != width:
        raise LedgerFileError(
            f"line {line}: the row has {len(cells)} cells but the header names {width} columns"
        )

    values = {name: cells[position] for name, position in positions.items()}
    values["detail"] = _unquote_formula(values.get("detail", ""))
    try:
        return _make_row(server_id, values)
    except LedgerError as error:
        raise LedgerFileError(f"line {line}: {error}") from None


def _parse_json(text: str, server_id: int) -> list[LedgerRow]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise LedgerFileError(
            f"line {error.lineno}: the file is not valid JSON ({error.msg} at column "
            f"{error.colno})"
        ) from None
    except RecursionError:
        raise LedgerFileError("the file is not a JSON ledger: its data nests too deeply") from None
    except ValueError:
        raise LedgerFileError("the file holds a number too long to read") from None

    items = document.get("rows") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise LedgerFileError(
            'a JSON ledger must be a list of rows or an object with a "rows" list'
        )
    if len(items) > MAX_IMPORT_ROWS:
        raise _too_many_rows()

    rows = []
    for number, item in enumerate(items, start=1):
        try:
            rows.append(_make_row(server_id, _json_item(item)))
        except LedgerError as error:
            raise LedgerFileError(f"row {number}: {error}") from None
    return rows


def _json_item(item: object) -> Mapping[str, object]:
    if not isinstance(item, dict):
        raise LedgerError(f"is not an object with the keys {_COLUMN_LIST}")
    _check_names(list(item), "key")
    return item


def _too_many_rows() -> LedgerFileError:
    return LedgerFileError(
        f"the file has more than {MAX_IMPORT_ROWS:,} rows; split it into smaller files"
    )


def _make_row(server_id: int, values: Mapping[str, object]) -> LedgerRow:
    when = _parse_ts(values["ts"])
    user_id = _parse_user_id(values["user_id"])
    kind = values["kind"]
    if not isinstance(kind, str):
        raise LedgerError(f"kind must be text such as join or claim, not {kind!r}")
    amount = _parse_amount(values.get("amount"))
    detail = values.get("detail")
    if detail is not None and not isinstance(detail, str):
        raise LedgerError(f"detail must be text, not {detail!r}")

    return make_row(server_id, user_id, when, kind, amount, detail)


def _parse_ts(value: object) -> datetime:
    if not isinstance(value, str):
        raise LedgerError(f"ts must be an ISO-8601 time such as {TS_EXAMPLE}, not {value!r}")
    text = value.strip()
    if not text:
        raise LedgerError(f"ts is empty; write a time such as {TS_EXAMPLE}")

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise LedgerError(
            f'ts "{_show(text)}" is not an ISO-8601 time such as {TS_EXAMPLE}'
        ) from None
    if when.tzinfo is None:
        raise LedgerError(
            f'ts "{_show(text)}" has no time zone; add Z for UTC, as in {TS_EXAMPLE}'
        )
    return when


def _parse_user_id(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # make_row checks the range
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise LedgerError("user_id is empty")
        if _ID_DIGITS.fullmatch(text):
            return int(text)
        raise LedgerError(f'user_id "{_show(text)}" is not a whole number of up to 20 digits')
    raise LedgerError(f"user_id {value!r} is not a whole number")


def _parse_amount(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            raise LedgerError(f'amount "{_show(text)}" is not a number') from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise LedgerError(f"amount {value!r} is not a number")


def _show(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


# Ledger export --------------------------------------------------------------------------------


def ledger_to_csv(rows: Iterable[LedgerRow]) -> bytes:
    """The rows as a UTF-8 CSV file in the import format, lines ending in CRLF.

    `ts` is UTC with milliseconds and `Z`; `amount` is empty for join, leave and event rows and
    for a claim of 0, and whole amounts have no `.0`. A detail a spreadsheet would run as a
    formula gets one leading `'`, which import takes off again, so the round trip stays exact.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(
        (
            _ts_text(row.ts_ms),
            row.user_id,
            row.kind.label,
            _amount(row),
            _quote_formula(row.detail),
        )
        for row in rows
    )  # the csv module writes None as an empty cell
    return buffer.getvalue().encode("utf-8")


def ledger_to_json(rows: Iterable[LedgerRow]) -> bytes:
    """The rows as a UTF-8 JSON list in the import format, one object per line.

    Values as in `ledger_to_csv`, with `amount` null where the CSV leaves it empty; `user_id`
    is a string because JavaScript and many JSON readers round integers above 2**53.
    """
    records = (
        {
            "ts": _ts_text(row.ts_ms),
            "user_id": str(row.user_id),
            "kind": row.kind.label,
            "amount": _amount(row),
            "detail": row.detail,
        }
        for row in rows
    )
    return _json_lines(records)


def _ts_text(ts_ms: int) -> str:
    # Integer arithmetic: a float timestamp loses milliseconds in far-future years.
    moment = _EPOCH + timedelta(milliseconds=ts_ms)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _amount(row: LedgerRow) -> int | float | None:
    if row.kind in _NO_AMOUNT or (row.kind is Kind.CLAIM and row.amount == 0):
        return None
    return int(row.amount) if row.amount.is_integer() else row.amount


def _quote_formula(detail: str) -> str:
    if detail.startswith(FORMULA_STARTS) or _QUOTED_FORMULA.match(detail):
        return "'" + detail
    return detail


def _unquote_formula(detail: str) -> str:
    return detail[1:] if _QUOTED_FORMULA.match(detail) else detail


def _json_lines(records: Iterable[dict]) -> bytes:
    lines = ",\n".join(
        json.dumps(record, ensure_ascii=False, allow_nan=False) for record in records
    )
    return (f"[\n{lines}\n]\n" if lines else "[]\n").encode("utf-8")


# Table export (the KPI snapshot history) ------------------------------------------------------


def table_to_csv(frame: pd.DataFrame) -> bytes:
    """The table as a spreadsheet-safe CSV: UTF-8 with a BOM, so that Excel reads the accents.

    Ids (columns named `id` or ending in `_id`, and integer columns reaching 2**53) are written
    as their exact decimal digits, never through a float, so the file never loses a digit. A
    spreadsheet that opens the file directly shows an 18-digit id rounded; to keep ids exact,
    import the file with those columns set to Text. Tricks such as `="..."` are avoided on
    purpose: every other reader would take them for part of the id. Text cells and headers
    starting with = + - @ tab or CR get a leading `'`, so a spreadsheet shows them instead of
    running them; numeric columns stay numbers, negative ones included. Times are in UTC, and
    a named index becomes columns.
    """
    table = _with_named_index(frame)
    for position in range(table.shape[1]):
        column = table.iloc[:, position]
        if _is_id_column(column):
            converted = column.astype(object).map(lambda value: _neutralise(_id_text(value)))
        elif isinstance(column.dtype, pd.DatetimeTZDtype):
            converted = column.dt.tz_convert("UTC").dt.tz_localize(None)
        elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_dtype(column):
            continue
        else:
            converted = column.astype(object).map(_neutralise)
        table.isetitem(position, converted)

    table.columns = [_neutralise(str(name)) for name in table.columns]
    return table.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def table_to_json(frame: pd.DataFrame) -> bytes:
    """The table as a UTF-8 JSON list of records, one object per line.

    Ids (as in `table_to_csv`) and any integer reaching 2**53 are strings; dates and times are
    ISO-8601; NaN, NaT and None are null.
    """
    table = _with_named_index(frame)
    names = [str(name) for name in table.columns]
    columns = []
    for position in range(table.shape[1]):
        column = table.iloc[:, position]
        convert = _id_text if _is_id_column(column) else _json_value
        columns.append([convert(value) for value in column.astype(object)])
    return _json_lines(
        dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)
    )


def _with_named_index(frame: pd.DataFrame) -> pd.DataFrame:
    if any(name is not None for name in frame.index.names):
        return frame.reset_index()
    return frame.reset_index(drop=True)


def _is_id_column(column: pd.Series) -> bool:
    name = str(column.name).lower()
    if name == "id" or name.endswith("_id"):
        return True
    if pd.api.types.is_integer_dtype(column) and column.notna().any():
        return bool(column.abs().max() >= EXACT_INTEGER_LIMIT)
    return False


def _id_text(value: object) -> str | None:
    if _is_null(value):
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, numbers.Real):
        if float(value).is_integer() and abs(value) < EXACT_INTEGER_LIMIT:
            return str(int(value))
        raise ValueError(
            f"an id stored as the float {value!r} has lost its exact digits; keep ids as "
            "integers or text"
        )
    return str(value)


def _json_value(value: object) -> object:
    if _is_null(value):
        return None
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        number = int(value)
        return str(number) if abs(number) >= EXACT_INTEGER_LIMIT else number
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _is_null(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


# Upload size ----------------------------------------------------------------------------------


def fit_upload(data: bytes, filename: str, limit_bytes: int) -> tuple[bytes, str]:
    """The file unchanged if it fits in `limit_bytes`, else zipped as `filename.zip` if that fits.

    Raises `ExportTooLargeError` when even the zip is too large.
    """
    if len(data) <= limit_bytes:
        return data, filename

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zipped:
        zipped.writestr(PurePath(filename).name, data)
    if buffer.tell() <= limit_bytes:
        return buffer.getvalue(), filename + ".zip"

    raise ExportTooLargeError(
        f"The export is {_size(buffer.tell())} even zipped, over the upload limit of "
        f"{_size(limit_bytes)}; narrow the date range with start_date and end_date."
    )
