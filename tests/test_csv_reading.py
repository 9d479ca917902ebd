"""The CSV reader's fast path (whole chunks through csv.reader) must give exactly the rows
the record-by-record path gives: same records, line numbers, raw text, problems and fields,
wherever the chunk boundaries fall. Random files built from the awkward pieces of real ones."""

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from loader import csv_input

PIECES = [b"a", b"bb", b",", b",", b'"', b'""', b"\n", b"\n", b"\r\n", b" ", b"\x00", b"\xff", b"\xc3\xa9",
          b'"x\ny"', b'"q,r"', b"\r"]


def rows_record_by_record(data: bytes) -> tuple[list[str], list[tuple]]:
    feed = csv_input._LineFeed(iter(io.BytesIO(data)))
    reader = csv_input.csv.reader(feed, strict=True)
    header = [n.strip().lower() for n in csv_input._next_record(reader, feed).fields]
    rows = []
    while (record := csv_input._next_record(reader, feed)) is not None:
        rows.append(csv_input._checked(record, len(header)).row(len(header)))
    return header, rows


def rows_as_loaded(data: bytes) -> tuple[list[str], list[tuple]]:
    header, batches = csv_input.read_csv(io.BytesIO(data), "test.csv")
    # a plain batch leaves out the problem column: put it back to compare
    return header, [row if not batch.plain else (*row[:2], None, *row[2:])
                    for batch in batches for row in batch.rows]


@settings(max_examples=400, deadline=None)
@given(body=st.lists(st.sampled_from(PIECES), max_size=60), chunk=st.integers(1, 40))
def test_fast_path_gives_the_same_rows_as_reading_record_by_record(body, chunk):
    data = b"id,ts,amount\n" + b"".join(body)
    default, csv_input.CHUNK_BYTES = csv_input.CHUNK_BYTES, chunk  # tiny chunks: many boundaries
    try:
        assert rows_as_loaded(data) == rows_record_by_record(data)
    finally:
        csv_input.CHUNK_BYTES = default


def test_plain_chunks_take_the_fast_path_and_odd_ones_do_not():
    assert csv_input._one_pass_batch([b"k,1\n", b"j,2\n"], 2, 2) == (
        [(2, "k,1", "k", "1"), (3, "j,2", "j", "2")], True)
    for odd in ([b'"k\n', b'",1\n'], [b"k,\xff\n"], [b"k,\x00\n"]):
        assert csv_input._one_pass_batch(odd, 2, 2) is None

