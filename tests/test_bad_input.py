"""Bad input: a clear outcome for each case, never a traceback, never a half-loaded batch.

Two outcomes exist. A record that cannot be used is rejected (dead_letter, reason, exit 0).
A file that cannot be read as a batch at all is refused: exit 2, a message saying what to fix,
nothing changed.
"""

from conftest import HEADER, SAMPLE


def write(loader, name: str, data: bytes):
    path = loader.tmp / name
    path.write_bytes(data)
    return path


def refused(loader, path, message: str):
    """Run a batch that must be refused, on a database that already holds the sample."""
    assert loader.run(SAMPLE).code == 0
    before = {t: loader.table(t) for t in ("events", "dead_letter", "lineage", "watermark")}
    result = loader.run(path)
    assert result.code == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert {t: loader.table(t) for t in before} == before
    return result


def accepted(loader, path):
    result = loader.run(path)
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    loader.assert_accounted(result.summary)
    return result.summary


def test_empty_file_is_refused(loader):
    refused(loader, write(loader, "empty.csv", b""), "is empty: expected a header row")


def test_blank_lines_only_is_refused(loader):
    refused(loader, write(loader, "blank.csv", b"\n\n\r\n"), "is empty: expected a header row")


def test_header_only_is_a_normal_run_with_nothing_to_do(loader):
    summary = accepted(loader, write(loader, "header.csv", HEADER.encode()))
    assert (summary["input_records"], summary["status"]) == (0, "succeeded")


def test_header_missing_a_column_is_refused_and_logged(loader):
    refused(loader, write(loader, "h.csv", b"event_id,event_ts,amount\nk,2025-01-01T00:00:00,1\n"),
            'the input has no column "user_id"')
    assert loader.rows("select status from run_log order by run_id desc limit 1") == [("failed",)]


def test_duplicate_header_column_is_refused(loader):
    refused(loader, write(loader, "d.csv", b"event_id,event_ts,user_id,amount,amount\n"),
            "names the column 'amount' twice")


def test_utf8_bom_and_crlf_line_endings(loader):
    data = "\ufeffevent_id,event_ts,user_id,amount\r\nk1,2025-01-01T00:00:00,u,1\r\nk2,2025-01-01T00:00:00,u,2\r\n"
    summary = accepted(loader, write(loader, "bom.csv", data.encode("utf-8")))
    assert summary["loaded"] == 2
    assert loader.rows("select event_id, user_id, amount, line_no from events order by 1") == [
        ("k1", "u", 1, 2), ("k2", "u", 2, 3)]


def test_quoted_fields_with_commas_and_newlines_keep_their_first_line(loader):
    data = (HEADER + 'k1,2025-01-01T00:00:00,"Smith, J.",1\n'
            'k2,2025-01-01T00:00:00,"two\nlines",2\n'
            'k3,2025-01-01T00:00:00,u,3\n')
    summary = accepted(loader, write(loader, "q.csv", data.encode()))
    assert summary["loaded"] == 3
    assert loader.rows("select event_id, user_id, line_no from events order by 1") == [
        ("k1", "Smith, J.", 2), ("k2", "two\nlines", 3), ("k3", "u", 5)]


def test_too_few_and_too_many_fields_are_rejected(loader):
    data = HEADER + "k1,2025-01-01T00:00:00,u\nk2,2025-01-01T00:00:00,u,1,x\nk3,2025-01-01T00:00:00,u,1\n"
    summary = accepted(loader, write(loader, "n.csv", data.encode()))
    assert (summary["loaded"], summary["rejected"]) == (1, 2)
    assert loader.rows("select line_no, raw, reason from dead_letter order by line_no") == [
        (2, "k1,2025-01-01T00:00:00,u", "has 3 fields, the header has 4"),
        (3, "k2,2025-01-01T00:00:00,u,1,x", "has 5 fields, the header has 4")]


def test_unterminated_quote_is_one_rejected_record(loader):
    data = HEADER + 'k1,2025-01-01T00:00:00,u,1\nk2,2025-01-01T00:00:00,"open,1\nk3,2025-01-01T00:00:00,u,1\n'
    summary = accepted(loader, write(loader, "u.csv", data.encode()))
    # the open quote runs to the end of the file: k3 is inside that one record
    assert (summary["input_records"], summary["loaded"], summary["rejected"]) == (2, 1, 1)
    assert loader.rows("select line_no, reason from dead_letter") == [
        (3, "cannot be parsed as CSV: unexpected end of data")]


def test_invalid_utf8_is_rejected_with_its_bytes_visible(loader):
    data = HEADER.encode() + b"k1,2025-01-01T00:00:00,caf\xe9,1\nk2,2025-01-01T00:00:00,ok,1\n"
    summary = accepted(loader, write(loader, "latin1.csv", data))
    assert (summary["loaded"], summary["rejected"]) == (1, 1)
    assert loader.rows("select raw, reason from dead_letter") == [
        ("k1,2025-01-01T00:00:00,caf\\xe9,1", "is not valid UTF-8 (undecodable bytes shown as \\x..)")]


def test_nul_bytes_are_rejected(loader):
    data = HEADER.encode() + b"k1,2025-01-01T00:00:00,a\x00b,1\nk2,2025-01-01T00:00:00,ok,1\n"
    summary = accepted(loader, write(loader, "nul.csv", data))
    assert (summary["loaded"], summary["rejected"]) == (1, 1)
    assert loader.rows("select raw, reason from dead_letter") == [
        ("k1,2025-01-01T00:00:00,a\\x00b,1", "contains a NUL byte")]


def test_a_nul_escaped_in_json_is_rejected_like_a_nul_byte(loader):
    path = loader.tmp / "nul.jsonl"
    path.write_text('{"event_id": "k1", "event_ts": "2025-01-01T00:00:00", "user_id": "u", "amount": 1}\n'
                    '{"event_id": "k2", "event_ts": "2025-01-01T00:00:00\\u0000 not a time", "user_id": "u", "amount": 1}\n')
    summary = accepted(loader, path)
    assert (summary["loaded"], summary["rejected"]) == (1, 1)
    assert loader.rows("select reason from dead_letter") == [("contains a NUL byte (\\u0000)",)]


def test_extra_columns_named_like_the_stages_own_change_nothing(loader):
    # the derived columns of stage 03 (trimmed text, the UTC time, the number check) must not be
    # shadowed by input columns of the same names
    header = "event_id,event_ts,user_id,amount,amount_text,user_id_text,ts,number,event_ts_utc,amount_is_number\n"
    summary = accepted(loader, loader.batch("e1,2025-01-15T12:00:00,u1,5,999,someone-else,2020-01-01,7,2020-01-01T00:00:00,0",
                                            "e2,2025-01-15T12:00:00,u2,abc,7,x,2020-01-01,7,2020-01-01T00:00:00,1",
                                            header=header))
    assert (summary["loaded"], summary["rejected"]) == (1, 1)
    assert loader.rows("select event_id, event_ts, user_id, amount from events") == [
        ("e1", "2025-01-15T12:00:00", "u1", 5)]
    assert loader.rows("select reason from dead_letter") == [("amount is not a number: abc",)]


def test_a_field_of_several_megabytes_is_data(loader):
    big = "x" * (5 * 1024 * 1024)
    summary = accepted(loader, write(loader, "big.csv", (HEADER + f"k1,2025-01-01T00:00:00,{big},1\n").encode()))
    assert summary["loaded"] == 1
    assert loader.rows("select length(user_id) from events") == [(len(big),)]


def test_surrounding_whitespace_is_trimmed(loader):
    data = " event_id , EVENT_TS ,user_id,amount \n  k1 , 2025-01-01T00:00:00 ,  u  , 1.5 \n"
    accepted(loader, write(loader, "ws.csv", data.encode()))
    assert loader.rows("select event_id, event_ts, user_id, amount from events") == [
        ("k1", "2025-01-01T00:00:00", "u", 1.5)]


def test_binary_garbage_is_refused(loader):
    refused(loader, write(loader, "garbage.bin", bytes(range(256)) * 40), "the header row (line 1)")


def test_text_that_is_not_a_batch_is_refused(loader):
    refused(loader, write(loader, "notes.txt", b"hello world\nthis is not csv\n"),
            'the input has no columns "event_id", "event_ts", "user_id", "amount", which the feed events reads')


def test_values_that_look_like_sql_are_stored_verbatim(loader):
    evil = ["x'); drop table events; --", 'Robert"; delete from lineage', ":run_id", "1 or 1=1"]
    lines = [f'k{i},2025-01-01T00:00:00,"{v.replace(chr(34), chr(34) * 2)}",1' for i, v in enumerate(evil)]
    loader.load(*lines)
    assert [r[0] for r in loader.rows("select user_id from events order by event_id")] == evil
    assert loader.rows("select count(*) from lineage") == [(8,)]


def test_a_header_naming_an_identifier_with_quotes_is_landed_safely(loader):
    data = 'event_id,event_ts,user_id,amount,"we""ird; drop table events"\nk1,2025-01-01T00:00:00,u,1,x\n'
    summary = accepted(loader, write(loader, "odd.csv", data.encode()))
    assert summary["loaded"] == 1


def test_a_missing_input_file_is_refused(loader):
    result = loader.run(loader.tmp / "nope.csv")
    assert result.code == 2 and "cannot read input" in result.stderr and "Traceback" not in result.stderr
    assert not loader.has_schema()


def test_an_unreadable_input_file_is_refused(loader):
    path = write(loader, "secret.csv", HEADER.encode())
    path.chmod(0)
    result = loader.run(path, obey_file_modes=True)
    assert result.code == 2 and "cannot read input" in result.stderr


def test_whitespace_only_lines_are_blank_lines(loader):
    data = HEADER + "k1,2025-01-01T00:00:00,u,1\n   \n\t\nk2,2025-01-01T00:00:00,u,2\n"
    summary = accepted(loader, write(loader, "ws.csv", data.encode()))
    assert (summary["input_records"], summary["loaded"]) == (2, 2)
    assert loader.rows("select event_id, line_no from events order by 1") == [("k1", 2), ("k2", 5)]


def test_a_header_with_too_many_columns_is_refused(loader):
    header = ",".join(["event_id", "event_ts", "user_id", "amount"] + [f"c{i}" for i in range(2000)])
    refused(loader, write(loader, "wide.csv", (header + "\n").encode()), "at most 1500 are supported")


def test_the_same_file_twice_is_refused(loader):
    path = loader.batch("k,2025-01-01T00:00:00,u,1")
    result = loader.run(path, loader.tmp / "." / path.name)
    assert result.code == 2 and "given more than once" in result.stderr


def test_a_file_is_known_by_its_absolute_path_however_it_is_spelled(loader):
    path = loader.batch("bad,not-a-time,u,1")
    assert loader.run(path).code == 0
    again = loader.run(f"./{path.name}")  # the tests run in loader.tmp
    assert (again.summary["dead_letters"], again.summary["dead_letters_repeated"]) == (0, 1)
    assert loader.rows("select source from dead_letter") == [(str(path),)]
