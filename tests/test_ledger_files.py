import io
import json
import os
import time
import zipfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from kpitracker import ledger_files
from kpitracker.ledger import Kind, LedgerError, make_row
from kpitracker.ledger_files import (
    ExportTooLargeError,
    LedgerFileError,
    fit_upload,
    ledger_to_csv,
    ledger_to_json,
    parse_ledger_file,
    table_to_csv,
    table_to_json,
)

HISTORY = Path(__file__).resolve().parents[1] / "demo" / "cardano_stackexchange.csv"
SERVER = 42
BIG_ID = 1_234_567_890_123_456_789  # 19 digits, like a Discord id
HEADER = "ts,user_id,kind,amount,detail\n"


def csv_file(*lines: str) -> bytes:
    return (HEADER + "".join(line + "\n" for line in lines)).encode()


def parse_csv(data: bytes):
    return parse_ledger_file(data, "history.csv", SERVER)


def parse_json(document) -> list:
    return parse_ledger_file(json.dumps(document).encode(), "history.json", SERVER)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


SAMPLE_ROWS = [
    make_row(SERVER, 1, utc(1970, 1, 1), "join"),
    make_row(SERVER, BIG_ID, utc(2021, 4, 27, 14, 50, 43, 50_000), "claim"),
    make_row(SERVER, BIG_ID, utc(2021, 4, 28, 9), "claim", 2.5),
    make_row(SERVER, BIG_ID, utc(2021, 4, 28, 10), "reward", 1, "badge:bronze:Autobiographer"),
    make_row(SERVER, 7, utc(2021, 5, 1), "spend", 0.1, 'shop, "quoted"\r\nnext line'),
    make_row(SERVER, 7, utc(2021, 5, 2), "event", None, '=HYPERLINK("x")'),
    make_row(SERVER, 7, utc(2021, 5, 3), "event", None, "'-already quoted"),
    make_row(SERVER, 7, utc(2021, 5, 4), "event", None, "ünïcode ✓ 'plain"),
    make_row(SERVER, 7, utc(2021, 5, 5), "voice", 0),
    make_row(SERVER, 7, utc(2021, 5, 5, 1), "voice", 3600),
    make_row(SERVER, 7, utc(9999, 12, 31, 23, 59, 59, 999_000), "leave"),
]


# The real activity history ------------------------------------------------------------------


def test_real_history_parses_quickly_with_the_documented_counts():
    data = HISTORY.read_bytes()

    started = time.perf_counter()
    rows = parse_ledger_file(data, HISTORY.name, SERVER)
    elapsed = time.perf_counter() - started

    assert len(rows) == 15_480
    assert Counter(row.kind for row in rows) == {
        Kind.JOIN: 3_987,
        Kind.CLAIM: 2_610,
        Kind.EVENT: 4_416,
        Kind.REWARD: 4_467,
    }
    assert len({row.user_id for row in rows}) == 3_987
    assert elapsed < 1.0
    assert rows[0] == make_row(
        SERVER, 2341, utc(2021, 4, 27, 14, 50, 43, 50_000), "join", None, "account_created"
    )


def test_real_history_exports_to_the_same_bytes():
    data = HISTORY.read_bytes()
    assert ledger_to_csv(parse_ledger_file(data, HISTORY.name, SERVER)) == data


# Round trips -------------------------------------------------------------------------------


def test_csv_round_trip_is_exact():
    assert parse_csv(ledger_to_csv(SAMPLE_ROWS)) == SAMPLE_ROWS


def test_json_round_trip_is_exact():
    assert parse_ledger_file(ledger_to_json(SAMPLE_ROWS), "x.json", SERVER) == SAMPLE_ROWS


def test_csv_export_writes_the_documented_values():
    lines = ledger_to_csv(SAMPLE_ROWS).decode().split("\r\n")

    assert lines[0] == "ts,user_id,kind,amount,detail"
    assert lines[1] == "1970-01-01T00:00:00.000Z,1,join,,"
    assert lines[2] == f"2021-04-27T14:50:43.050Z,{BIG_ID},claim,,"
    assert lines[3] == f"2021-04-28T09:00:00.000Z,{BIG_ID},claim,2.5,"
    assert lines[4] == f"2021-04-28T10:00:00.000Z,{BIG_ID},reward,1,badge:bronze:Autobiographer"
    assert '2021-05-02T00:00:00.000Z,7,event,,"\'=HYPERLINK(""x"")"' in lines
    assert "2021-05-03T00:00:00.000Z,7,event,,''-already quoted" in lines
    assert "2021-05-05T00:00:00.000Z,7,voice,0," in lines
    assert "9999-12-31T23:59:59.999Z,7,leave,," in lines


def test_json_export_writes_ids_as_text_and_missing_amounts_as_null():
    records = json.loads(ledger_to_json(SAMPLE_ROWS))

    assert records[1] == {
        "ts": "2021-04-27T14:50:43.050Z",
        "user_id": str(BIG_ID),
        "kind": "claim",
        "amount": None,
        "detail": "",
    }
    assert records[3]["amount"] == 1 and isinstance(records[3]["amount"], int)
    assert records[5]["detail"] == '=HYPERLINK("x")'
    assert ledger_to_json([]) == b"[]\n"


# CSV import --------------------------------------------------------------------------------


def test_bom_column_order_blank_lines_and_offsets_are_accepted():
    data = (
        "\ufeffkind,detail,user_id,ts,amount\r\n\r\nreward,badge,5,2021-04-27T16:50:00+02:00,3\r\n"
    )

    [row] = parse_csv(data.encode())

    assert row == make_row(SERVER, 5, utc(2021, 4, 27, 14, 50), "reward", 3, "badge")


def test_amount_and_detail_columns_are_optional():
    [row] = parse_csv(b"user_id,ts,kind\n9,2021-04-27T14:50:43Z,join\n")
    assert row == make_row(SERVER, 9, utc(2021, 4, 27, 14, 50, 43), "join")


VALID = "2021-04-27T14:50:43.050Z,5,join,,account_created"


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("2021-04-27T14:50:43.050Z,5,reward,abc,", 'amount "abc" is not a number'),
        ("2021-04-27T14:50:43.050,5,join,,", "has no time zone; add Z for UTC"),
        ("27/04/2021 14:50,5,join,,", 'ts "27/04/2021 14:50" is not an ISO-8601 time'),
        (",5,join,,", "ts is empty"),
        ("1969-12-31T23:59:59Z,5,join,,", "between the years 1970 and 9999"),
        ("2021-04-27T14:50:43Z,abc,join,,", 'user_id "abc" is not a whole number'),
        ("2021-04-27T14:50:43Z,1.5,join,,", 'user_id "1.5" is not a whole number'),
        ("2021-04-27T14:50:43Z,,join,,", "user_id is empty"),
        ("2021-04-27T14:50:43Z,0,join,,", "user_id must be a positive integer id"),
        ("2021-04-27T14:50:43Z,-3,join,,", "user_id must be a positive integer id"),
        ("2021-04-27T14:50:43Z,99999999999999999999,join,,", "positive integer id"),
        ("2021-04-27T14:50:43Z,5,bonus,,", "unknown kind 'bonus'; expected one of join"),
        ("2021-04-27T14:50:43Z,5,join,2,", "a join row carries no amount"),
        ("2021-04-27T14:50:43Z,5,reward,,", "a reward needs an amount of LTZ greater than 0"),
        ("2021-04-27T14:50:43Z,5,claim,-1,", "a claim's amount cannot be negative"),
        ("2021-04-27T14:50:43Z,5,reward,nan,", "amount must be a finite number"),
        ("2021-04-27T14:50:43Z,5,event,,", "an event needs a detail naming the event"),
        ("2021-04-27T14:50:43Z,5,event,," + "x" * 201, "detail is longer than 200 characters"),
        ("2021-04-27T14:50:43Z,5,join,", "the row has 4 cells but the header names 5 columns"),
        ("2021-04-27T14:50:43Z,5,join,,,", "the row has 6 cells but the header names 5 columns"),
        ('2021-04-27T14:50:43Z,5,event,,"a"b', "the row is not valid CSV"),
    ],
)
def test_a_malformed_row_names_its_line_and_reason(bad_row, reason):
    data = csv_file(VALID, VALID, VALID, VALID, VALID, bad_row, VALID)

    with pytest.raises(LedgerFileError) as caught:
        parse_csv(data)

    message = str(caught.value)
    assert message.startswith("line 7: ")
    assert reason in message
    assert "\n" not in message


def test_line_numbers_count_physical_lines_across_quoted_newlines_and_blank_lines():
    data = csv_file(
        '2021-04-27T14:50:43Z,5,event,,"two\nlines"',
        "",
        "2021-04-27T14:50:43Z,5,reward,x,",
    )

    with pytest.raises(LedgerFileError, match=r'^line 5: amount "x" is not a number$'):
        parse_csv(data)


def test_an_unclosed_quote_names_the_line_where_the_row_starts():
    data = csv_file(VALID, '2021-04-27T14:50:43Z,5,event,,"never closed', VALID, VALID)

    with pytest.raises(LedgerFileError, match=r"^line 3: the row is not valid CSV"):
        parse_csv(data)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("ts,user_id,kind,amount,detail,channel", 'line 1: unknown column "channel"'),
        ("ts,user_id,amount,detail", "line 1: the column kind is missing"),
        ("ts,user_id,kind,ts", 'line 1: the column "ts" appears twice'),
        ("ts,kind", "line 1: the column user_id is missing"),
        ("2021-04-27T14:50:43Z,5,join,,", "line 1: the file has no header"),
    ],
)
def test_a_bad_header_is_refused(header, reason):
    with pytest.raises(LedgerFileError, match=f"^{reason}"):
        parse_csv(f"{header}\n{VALID}\n".encode())


def test_a_wrong_row_rejects_the_whole_file():
    with pytest.raises(LedgerFileError):
        parse_csv(csv_file(*[VALID] * 100, "bad,row,,,"))


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (b"", "a.csv", "the file is empty"),
        (b"\xef\xbb\xbf \r\n", "a.csv", "the file is empty"),
        (HEADER.encode(), "a.csv", "the file has no rows to import"),
        (b"[]", "a.json", "the file has no rows to import"),
        (csv_file(VALID), "a.xlsx", 'cannot read "a.xlsx": upload a .csv or .json file'),
        (csv_file(VALID), "history", 'cannot read "history": upload a .csv or .json'),
        (HEADER.encode() + b"2021-04-27T14:50:43Z,5,event,,caf\xe9\n", "a.csv", "line 2: "),
    ],
)
def test_unreadable_files_are_refused_with_a_sentence(data, filename, reason):
    with pytest.raises(LedgerFileError, match=f"^{reason}"):
        parse_ledger_file(data, filename, SERVER)


def test_extension_is_case_insensitive():
    assert len(parse_ledger_file(csv_file(VALID), "HISTORY.CSV", SERVER)) == 1


def test_size_limit(monkeypatch):
    monkeypatch.setattr(ledger_files, "MAX_IMPORT_BYTES", 100)

    with pytest.raises(LedgerFileError, match="over the import limit"):
        parse_csv(csv_file(VALID, VALID, VALID))


def test_row_limit(monkeypatch):
    monkeypatch.setattr(ledger_files, "MAX_IMPORT_ROWS", 2)
    assert len(parse_csv(csv_file(VALID, VALID))) == 2

    with pytest.raises(LedgerFileError, match="more than 2 rows"):
        parse_csv(csv_file(VALID, VALID, VALID))
    with pytest.raises(LedgerFileError, match="more than 2 rows"):
        parse_json([{"ts": "2021-04-27T14:50:43Z", "user_id": 5, "kind": "join"}] * 3)


def test_the_limits_have_the_documented_values():
    assert ledger_files.MAX_IMPORT_BYTES == 25 * 1024 * 1024
    assert ledger_files.MAX_IMPORT_ROWS == 1_000_000


def test_the_file_error_is_a_ledger_error():
    assert issubclass(LedgerFileError, LedgerError)


# JSON import -------------------------------------------------------------------------------

JOIN = {"ts": "2021-04-27T14:50:43.050Z", "user_id": 5, "kind": "join"}


def test_json_list_and_rows_object_give_the_same_rows():
    claim = {"ts": "2021-04-28T00:00:00Z", "user_id": str(BIG_ID), "kind": "claim", "amount": 3}

    expected = [
        make_row(SERVER, 5, utc(2021, 4, 27, 14, 50, 43, 50_000), "join"),
        make_row(SERVER, BIG_ID, utc(2021, 4, 28), "claim", 3),
    ]
    assert parse_json([JOIN, claim]) == expected
    assert parse_json({"rows": [JOIN, claim], "exported": "today"}) == expected


def test_json_accepts_null_and_text_amounts():
    rows = parse_json(
        [
            {**JOIN, "amount": None, "detail": None},
            {**JOIN, "kind": "reward", "amount": "2.5", "detail": "bonus"},
        ]
    )
    assert [row.amount for row in rows] == [0.0, 2.5]


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({**JOIN, "channel": 1}, 'row 3: unknown key "channel"; the keys are ts, user_id'),
        ({"kind": "join"}, "row 3: the keys ts and user_id are missing"),
        ({"ts": JOIN["ts"], "kind": "join"}, "row 3: the key user_id is missing"),
        ([1, 2], "row 3: is not an object with the keys"),
        ({**JOIN, "ts": "2021-04-27T14:50:43"}, "row 3: .* has no time zone; add Z for UTC"),
        ({**JOIN, "ts": 1619535043}, "row 3: ts must be an ISO-8601 time"),
        ({**JOIN, "user_id": 1.5}, "row 3: user_id 1.5 is not a whole number"),
        ({**JOIN, "user_id": True}, "row 3: user_id True is not a whole number"),
        ({**JOIN, "kind": "reward", "amount": "abc"}, 'row 3: amount "abc" is not a number'),
        ({**JOIN, "kind": "reward", "amount": True}, "row 3: amount True is not a number"),
        ({**JOIN, "kind": 4}, "row 3: kind must be text"),
        ({**JOIN, "detail": 5}, "row 3: detail must be text"),
    ],
)
def test_a_malformed_json_row_names_its_index_and_reason(item, reason):
    with pytest.raises(LedgerFileError, match=f"^{reason}"):
        parse_json([JOIN, JOIN, item, JOIN])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('[\n{"ts": 1,}\n]', "line 2: the file is not valid JSON"),
        ('{"row": []}', 'a JSON ledger must be a list of rows or an object with a "rows" list'),
        ('"rows"', "a JSON ledger must be a list"),
        ("[" * 100_000 + "]" * 100_000, "the file is not a JSON ledger"),
    ],
)
def test_a_malformed_json_document_is_refused(text, reason):
    with pytest.raises(LedgerFileError, match=f"^{reason}"):
        parse_ledger_file(text.encode(), "x.json", SERVER)


# Table export ------------------------------------------------------------------------------


def snapshot_history() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "server_id": [BIG_ID, BIG_ID, BIG_ID],
            "channel_id": pd.array([BIG_ID - 1, None, 5], dtype="Int64"),
            "day": pd.to_datetime(["2021-04-27", "2021-04-28", "2021-04-29"]),
            "kpi": ["=1+1", "+cmd", "churn"],
            "note": ["-5", "@SUM(A1)", None],
            "value": [-5.5, float("nan"), 3.0],
            "delta": [-2, 0, 7],
        }
    )


def read_table_csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_table_csv_has_a_bom_and_exact_id_digits():
    frame = snapshot_history()
    data = table_to_csv(frame)
    table = read_table_csv(data)

    assert data.startswith(b"\xef\xbb\xbf")
    assert list(table["server_id"]) == [str(BIG_ID)] * 3
    assert list(table["channel_id"]) == [str(BIG_ID - 1), "", "5"]
    assert b"e+" not in data and b"E+" not in data
    pd.testing.assert_frame_equal(frame, snapshot_history())


def test_table_csv_neutralises_formula_like_text_but_keeps_negative_numbers():
    table = read_table_csv(table_to_csv(snapshot_history()))

    assert list(table["kpi"]) == ["'=1+1", "'+cmd", "churn"]
    assert list(table["note"]) == ["'-5", "'@SUM(A1)", ""]
    assert list(table["value"]) == ["-5.5", "", "3.0"]
    assert list(table["delta"]) == ["-2", "0", "7"]
    assert list(table["day"]) == ["2021-04-27", "2021-04-28", "2021-04-29"]


def test_table_csv_neutralises_tab_carriage_return_headers_and_mixed_columns():
    frame = pd.DataFrame({"=name": ["\tx", "\ry", "ok"], "mixed": [-1, "-1", "x"]})

    table = read_table_csv(table_to_csv(frame))

    assert list(table.columns) == ["'=name", "mixed"]
    assert list(table["'=name"]) == ["'\tx", "'\ry", "ok"]
    assert list(table["mixed"]) == ["-1", "'-1", "x"]


def test_table_csv_treats_large_integers_as_ids_and_refuses_float_ids():
    frame = pd.DataFrame({"guild": [BIG_ID], "ts": pd.to_datetime(["2021-04-27T14:00Z"])})
    table = read_table_csv(table_to_csv(frame))
    assert list(table["guild"]) == [str(BIG_ID)]
    assert list(table["ts"]) == ["2021-04-27 14:00:00"]

    with pytest.raises(ValueError, match="lost its exact digits"):
        table_to_csv(pd.DataFrame({"user_id": [float(BIG_ID)]}))


def test_table_csv_keeps_a_named_index():
    frame = snapshot_history().set_index("day")
    assert read_table_csv(table_to_csv(frame)).columns[0] == "day"


def test_table_json_has_string_ids_iso_dates_and_nulls():
    records = json.loads(table_to_json(snapshot_history()))

    assert records[0] == {
        "server_id": str(BIG_ID),
        "channel_id": str(BIG_ID - 1),
        "day": "2021-04-27T00:00:00",
        "kpi": "=1+1",
        "note": "-5",
        "value": -5.5,
        "delta": -2,
    }
    assert records[1]["channel_id"] is None
    assert records[1]["value"] is None
    assert records[2]["note"] is None
    assert table_to_json(snapshot_history().iloc[0:0]) == b"[]\n"


# Upload size -------------------------------------------------------------------------------


def test_fit_upload_returns_a_small_file_unchanged():
    assert fit_upload(b"abc", "kpi.csv", 3) == (b"abc", "kpi.csv")


def test_fit_upload_zips_a_large_file_that_compresses():
    data = ledger_to_csv(SAMPLE_ROWS * 500)

    zipped, name = fit_upload(data, "ledger.csv", len(data) // 4)

    assert name == "ledger.csv.zip"
    assert len(zipped) <= len(data) // 4
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.namelist() == ["ledger.csv"]
        assert archive.read("ledger.csv") == data


def test_fit_upload_refuses_a_file_that_does_not_fit_even_zipped():
    data = os.urandom(50_000)

    with pytest.raises(ExportTooLargeError, match="narrow the date range with start_date"):
        fit_upload(data, "ledger.csv", 10_000)
