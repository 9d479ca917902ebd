"""Corrections at the same version (issue 22): a delivery is one input's content (the SHA-256 of
its bytes after gzip decompression), numbered as committed runs first load it. At the version
the target holds, a record with the same values is stale; one with other values is differing
(left out, said on stderr), unless the feed declares corrections = 'apply' and the record comes
from a later delivery than the stored row's: then it is loaded as corrected (a deletion applies).
Within a run, equal versions go to the later delivery, then to the later record in the input.
Run through the CLI on both engines, with the shipped feed prices (which applies corrections),
its sample and its re-issue (data/prices_reissue.csv), and a copy of prices that reports them."""

from __future__ import annotations

import gzip
import json
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import ENGINES, ROOT, TARGET_DETAIL, Result, make_loader

NOW = "2025-04-01T00:00:00"  # the runs' clock: after every record of the sample
HEADER = "store_id,sku,updated_at,price,op\n"
SAMPLE = ROOT / "data" / "prices_sample.csv"     # A: 4 prices, 2 deletions, 3 rejects
REISSUE = ROOT / "data" / "prices_reissue.csv"   # B: 3 of A's prices restated at their updated_at
T = "2025-01-10T00:00:00"  # the one version of the small batches' records


def ts(day: int, hour: int = 9) -> str:
    """A March 2025 timestamp, as the loader stores it (the sample's)."""
    return f"2025-03-{day:02d}T{hour:02d}:00:00"


def key(sku: str, store: str = "S1") -> str:
    """The key's text form, as tombstone and lineage have it."""
    return json.dumps([store, sku], separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# a loader for the feed prices on each engine: as shipped (apply), or reporting corrections


@pytest.fixture(params=ENGINES)
def prices(request, tmp_path):
    """A fresh database on each engine, for the feed prices as shipped: it applies corrections."""
    assert re.search(r"'apply'\s+as corrections", (ROOT / "sql" / "feeds" / "prices.sql").read_text())
    return make_loader(request.param, tmp_path, request, "prices")


@pytest.fixture(params=ENGINES)
def reporting(request, tmp_path):
    """The same, for prices as shipped but for 'report' as corrections, in a private copy of sql/."""
    loader = make_loader(request.param, tmp_path, request, "prices")
    definition = loader.copy_sql() / "feeds" / "prices.sql"
    declared = re.compile(r"'apply'(\s+)as corrections")
    assert declared.search(definition.read_text())
    definition.write_text(declared.sub(r"'report'\1as corrections", definition.read_text()))
    return loader


def copy(loader, source, name: str):
    path = loader.tmp / name
    shutil.copy(source, path)
    return path.resolve()


def write(loader, name: str, *lines: str):
    path = loader.tmp / name
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path.resolve()


def record_lines(path) -> set:
    """The line numbers of a CSV file's records (after its header), gzip or not."""
    with (gzip.open if str(path).endswith(".gz") else open)(path, "rb") as file:
        return set(range(2, 1 + len(file.read().splitlines())))


def run_stdin(loader, path, *args) -> Result:
    """A load of - (standard input) fed from path, as `runner.py - < path`."""
    cmd = [sys.executable, str(ROOT / "runner.py"), "-", *map(str, args), "--db", str(loader.db),
           "--sql-dir", str(loader.sql_dir), "--feed", "prices", "--now", NOW]
    with open(path, "rb") as stdin:
        done = subprocess.run(cmd, stdin=stdin, capture_output=True, timeout=120, cwd=loader.tmp)
    return Result(done.returncode, done.stdout.decode(), done.stderr.decode())


def run_suggested(loader, command: str) -> Result:
    """A command the loader suggested, run exactly as given (it names the database and clock)."""
    done = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=120, cwd=loader.tmp)
    return Result(done.returncode, done.stdout, done.stderr)


# ---------------------------------------------------------------------------------------------
# reading the database back


def rows(loader) -> dict:
    """key -> (updated_at, price, run_id, source, line_no)"""
    return {key(r[1], r[0]): tuple(r[2:]) for r in loader.rows(
        "select store_id, sku, updated_at, price, run_id, source, line_no from prices")}


def tombstones(loader) -> dict:
    """key -> (version, run_id, source, line_no)"""
    return {r[0]: tuple(r[1:]) for r in loader.rows(
        "select key, version, run_id, source, line_no from tombstone where feed = 'prices'")}


def outcomes(loader, run_id: int) -> list[tuple]:
    """(source, line_no, key, step, detail) of every record's outcome in a run, in lineage order."""
    return loader.rows(f"select source, line_no, event_id, step, {TARGET_DETAIL} from lineage where run_id = ? "
                       "and step <> 'staged' order by lineage_id", run_id)


def outcome_of(loader, run_id: int) -> dict:
    """(source, line_no) -> (step, detail)"""
    return {(str(src), n): (step, detail) for src, n, _, step, detail in outcomes(loader, run_id)}


def deliveries(loader) -> list[tuple]:
    """(delivery_id, run_id, source): each content, by the run and file that first loaded it"""
    return loader.rows("select delivery_id, run_id, source from delivery order by delivery_id")


def run_files(loader, run_id: int) -> dict:
    """source -> delivery_id, of one run's files"""
    return dict(loader.rows("select source, delivery_id from run_file where run_id = ?", run_id))


def watermark(loader):
    return loader.rows("select value from watermark where feed = 'prices'")[0][0]


def state(loader) -> tuple:
    """What a run that changes nothing leaves as it was."""
    return rows(loader), tombstones(loader), watermark(loader)


COUNTS = ("input_records", "staged", "rejected", "loaded", "inserted", "updated", "corrected", "deleted", "skipped",
          "stale", "differing", "superseded", "late_skipped", "dead_letters", "dead_letters_repeated",
          "dead_letters_resolved", "lineage_entries")


def checked(loader, result: Result, *sources, lines: dict | None = None, one_per_line: bool = True) -> dict:
    """A run that must succeed, its accounting checked on the summary, in run_log, in lineage,
    by conftest's assert_accounted and on the stderr line. sources: its input files (every line
    after the header accounted for), or lines: {source: line numbers} (a replay's). one_per_line
    False: a replay of two dead letters from one file and line (two contents of one path), which
    assert_accounted, counting records by their file and line, cannot tell apart. Returns the
    summary."""
    assert result.code == 0, result.stderr
    s = result.summary
    assert s["status"] == "succeeded"
    assert s["input_records"] == s["staged"] + s["rejected"]
    assert s["staged"] == s["loaded"] + s["deleted"] + s["skipped"] + s["stale"] + s["differing"] + s["superseded"]
    assert s["loaded"] == s["inserted"] + s["updated"] + s["corrected"]
    assert s["rejected"] == s["dead_letters"] + s["dead_letters_repeated"]
    # run_log holds the same counts
    logged = dict(zip(COUNTS, loader.rows(f"select {', '.join(COUNTS)} from run_log where run_id = ?",
                                          s["run_id"])[0]))
    assert logged == {c: s[c] for c in COUNTS}
    # lineage: a step per record besides staged, as counted; loaded records by how
    steps = dict(loader.rows("select step, count(*) from lineage where run_id = ? group by step", s["run_id"]))
    assert steps == {step: s[step] for step in ("staged", "loaded", "deleted", "skipped", "stale", "differing",
                                                 "superseded", "rejected") if s[step]}
    assert sum(steps.values()) == s["lineage_entries"]
    assert dict(loader.rows(f"select {TARGET_DETAIL}, count(*) from lineage where run_id = ? and step = 'loaded' "
                            "group by 1", s["run_id"])) == {
        d: s[d] for d in ("inserted", "updated", "corrected") if s[d]}
    # a differing record says why, as a stale one does
    assert loader.rows("select count(*) from lineage where run_id = ? and step in ('stale', 'differing') "
                       "and detail is null", s["run_id"]) == [(0,)]
    # whatever conftest checks of every run (each line accounted for once, rejects filed)
    if sources:
        lines = {str(p): record_lines(p) for p in sources}
    if one_per_line:
        loader.assert_accounted(s, lines)
    else:
        assert loader.rows("select count(*) from lineage where run_id = ? and step = 'staged'",
                           s["run_id"]) == [(s["staged"],)]
    # the line for people counts what was corrected and what differs, when any did
    line = next(x for x in result.stderr.splitlines() if x.startswith(f"run {s['run_id']} (prices): "))
    assert f"{s['loaded']} loaded ({s['inserted']} new, {s['updated']} updated" in line, line
    assert re.findall(r"(\d+) corrected", line) == ([str(s["corrected"])] if s["corrected"] else []), line
    assert re.findall(r"(\d+) differing", line) == ([str(s["differing"])] if s["differing"] else []), line
    assert re.findall(r"(\d+) deleted", line) == [str(s["deleted"])], line
    # a note on what differs when anything does (how many), and none otherwise
    assert re.findall(r"^note: (\d+) records? at the version prices holds, with other values", result.stderr,
                      re.M) == ([str(s["differing"])] if s["differing"] else []), result.stderr
    # the same content as an earlier run's file: a note per file, naming that run and file
    for same in s["same_content"]:
        earlier = (f"run {same['first_run_id']} loaded" if same["first_source"] == same["source"]
                   else f"run {same['first_run_id']}'s {same['first_source']}")
        assert (f"note: {same['source']} has the same content as {earlier}: a delivery seen before, which keeps "
                "its place") in result.stderr
    assert result.stderr.count("has the same content as") == len(s["same_content"])
    return s


def load(loader, path, *args) -> dict:
    return checked(loader, loader.run(path, *args, now=NOW), path)


def same(path, run_id: int, first=None) -> dict:
    """A same_content entry: path has the content run_id first loaded (from first, if not path)."""
    return {"source": str(path), "first_run_id": run_id, "first_source": str(first or path)}


def held(version: str, run_id: int, applying: bool = True) -> str:
    """A differing record's detail: the row run_id stored at version holds other values (in a feed
    that applies corrections, the row of a delivery no earlier than the record's)."""
    return f"prices holds other values at {version}, from run {run_id}" + (", a later delivery" if applying else "")


SAMPLE_ROWS = {  # the sample's rows, (updated_at, price, line)
    key("apple"): (ts(2), 0.45, 6), key("apple", "S2"): (ts(1), 0.55, 4), key("pear", "S2"): (ts(4), 0.9, 12),
    key("fig", "S3"): (ts(5), 1.25, 13)}


def sample_rows(run_id: int, source) -> dict:
    return {k: (t, p, run_id, str(source), n) for k, (t, p, n) in SAMPLE_ROWS.items()}


def sample_tombstones(run_id: int, source) -> dict:
    return {key("pear"): (ts(3), run_id, str(source), 7), key("plum", "S2"): (ts(3), run_id, str(source), 8)}


# ---------------------------------------------------------------------------------------------
# 1 and 3. the re-issue of the sample: late, then corrected with the command the warning gives;
#    the sample and the re-issue again change nothing (gzip is the same content); a copy of the
#    sample with CRLF line ends is a new, later delivery, which wins


def test_a_reissue_is_late_then_corrected_and_what_was_seen_before_changes_nothing(prices):
    a, b = copy(prices, SAMPLE, "prices_sample.csv"), copy(prices, REISSUE, "prices_reissue.csv")
    first = load(prices, a)
    assert (first["inserted"], first["deleted"], first["rejected"], first["same_content"]) == (4, 2, 3, [])
    assert state(prices) == (sample_rows(1, a), sample_tombstones(1, a), ts(5))

    # B: every record older than the watermark (05 09:00), at the version stored, with other values
    late = prices.run(b, now=NOW)
    s = checked(prices, late, b)
    assert (s["skipped"], s["late_skipped"], s["oldest_late"], s["loaded"], s["differing"]) == (3, 3, ts(1), 0, 0)
    assert state(prices) == (sample_rows(1, a), sample_tombstones(1, a), ts(5))
    assert deliveries(prices) == [(1, 1, str(a)), (2, 2, str(b))]
    warning = next(line for line in late.stderr.splitlines() if line.startswith("warning: "))
    assert warning.startswith("warning: 3 late records skipped") and f"(the oldest: {ts(1)})" in warning, warning
    assert "(or, at the same version, other values from a later delivery)" in warning
    command = re.search(r"To load them: (.*)$", warning).group(1)
    assert command.startswith(shlex.join([sys.executable, str(ROOT / "runner.py"), str(b)])), command
    assert "--lookback 4d" in command and "--feed prices" in command and f"--now {NOW}" in command, command

    # the command given, as given: B's prices, B's provenance
    s = checked(prices, run_suggested(prices, command), b)
    assert (s["loaded"], s["corrected"], s["inserted"], s["updated"], s["late_skipped"], s["stale"]) == (
        3, 3, 0, 0, 0, 0)
    assert s["same_content"] == [same(b, 2)]  # (run 2 skipped it, but it was its delivery)
    restated = {**sample_rows(1, a), key("apple"): (ts(2), 0.49, 3, str(b), 2),
                key("apple", "S2"): (ts(1), 0.59, 3, str(b), 3), key("pear", "S2"): (ts(4), 0.95, 3, str(b), 4)}
    after = (restated, sample_tombstones(1, a), ts(5))
    assert state(prices) == after
    assert outcomes(prices, 3) == [(str(b), 2, key("apple"), "loaded", "corrected"),
                                   (str(b), 3, key("apple", "S2"), "loaded", "corrected"),
                                   (str(b), 4, key("pear", "S2"), "loaded", "corrected")]
    assert deliveries(prices) == [(1, 1, str(a)), (2, 2, str(b))] and run_files(prices, 3) == {str(b): 2}

    # A again, reaching back: an earlier delivery; its prices differ from B's and are left out
    again = prices.run(a, "--lookback", "4d", now=NOW)
    s = checked(prices, again, a)
    assert (s["loaded"], s["differing"], s["stale"], s["superseded"], s["rejected"], s["dead_letters_repeated"]) == (
        0, 3, 3, 3, 3, 3)
    assert s["same_content"] == [same(a, 1)]
    assert state(prices) == after
    got = outcome_of(prices, 4)
    assert {k: got[(str(a), n)] for k, (_, _, n) in SAMPLE_ROWS.items()} == {
        key("apple"): ("differing", held(ts(2), 3)), key("apple", "S2"): ("differing", held(ts(1), 3)),
        key("pear", "S2"): ("differing", held(ts(4), 3)),
        key("fig", "S3"): ("stale", f"prices already holds a version from {ts(5)}")}
    assert ("note: 3 records at the version prices holds, with other values, from a delivery no later than the "
            "stored one's: not applied (the later delivery wins; lineage: differing)") in again.stderr
    # ... and without it, none of A is late (an earlier delivery's values would not apply)
    quiet = prices.run(a, now=NOW)
    s = checked(prices, quiet, a)
    assert (s["skipped"], s["late_skipped"], s["stale"], s["loaded"]) == (8, 0, 1, 0)
    assert "warning" not in quiet.stderr and state(prices) == after

    # B again, gzipped under another name: the same content, the same delivery (its values
    # as stored: stale)
    b_gz = prices.tmp / "reissue_again.csv.gz"
    b_gz.write_bytes(gzip.compress(REISSUE.read_bytes()))
    s = load(prices, b_gz, "--lookback", "4d")
    assert (s["stale"], s["loaded"], s["differing"], s["same_content"]) == (3, 0, 0, [same(b_gz, 2, b)])
    assert state(prices) == after
    assert len(deliveries(prices)) == 2 and run_files(prices, s["run_id"]) == {str(b_gz): 2}

    # A with CRLF line ends: other bytes, a new delivery (the latest): its prices win
    a_crlf = prices.tmp / "prices_sample_crlf.csv"
    a_crlf.write_bytes(SAMPLE.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert a_crlf.read_bytes() != SAMPLE.read_bytes()
    s = load(prices, a_crlf, "--lookback", "4d")
    assert (s["loaded"], s["corrected"], s["stale"], s["differing"], s["same_content"]) == (3, 3, 3, 0, [])
    assert rows(prices) == {**sample_rows(s["run_id"], a_crlf), key("fig", "S3"): (ts(5), 1.25, 1, str(a), 13)}
    assert (tombstones(prices), watermark(prices)) == (sample_tombstones(1, a), ts(5))
    assert deliveries(prices) == [(1, 1, str(a)), (2, 2, str(b)), (3, s["run_id"], str(a_crlf))]
    assert prices.rows("select run_id, corrected, differing from run_log order by run_id") == [
        (1, 0, 0), (2, 0, 0), (3, 3, 0), (4, 0, 3), (5, 0, 0), (6, 0, 0), (7, 3, 0)]


# ---------------------------------------------------------------------------------------------
# 2 and 5. a feed that reports corrections: at the stored version, other values, a deletion of a
#    held row or an upsert of a deleted key are differing, never applied, and not late


def test_a_feed_that_reports_corrections_counts_them_differing_and_applies_none(reporting):
    prices = reporting
    definition = prices.sql_dir / "feeds" / "prices.sql"
    a, b = copy(prices, SAMPLE, "prices_sample.csv"), copy(prices, REISSUE, "prices_reissue.csv")
    load(prices, a)
    before = (sample_rows(1, a), sample_tombstones(1, a), ts(5))
    assert state(prices) == before

    # B skipped by the watermark: this feed would not apply it, so it is not late
    skipped = prices.run(b, now=NOW)
    s = checked(prices, skipped, b)
    assert (s["skipped"], s["late_skipped"]) == (3, 0) and "warning" not in skipped.stderr

    # reached by the lookback: differing, left out, and stderr says what would apply them
    result = prices.run(b, "--lookback", "4d", now=NOW)
    s = checked(prices, result, b)
    assert (s["differing"], s["loaded"], s["corrected"], s["stale"], s["same_content"]) == (3, 0, 0, 0, [same(b, 2)])
    assert state(prices) == before
    assert outcomes(prices, 3) == [(str(b), 2, key("apple"), "differing", held(ts(2), 1, applying=False)),
                                   (str(b), 3, key("apple", "S2"), "differing", held(ts(1), 1, applying=False)),
                                   (str(b), 4, key("pear", "S2"), "differing", held(ts(4), 1, applying=False))]
    assert (f"note: 3 records at the version prices holds, with other values: not applied (corrections = 'report'). "
            f"To apply such corrections (the later delivery wins), declare 'apply' as corrections in {definition} "
            f"and load the file again") in result.stderr

    # a deletion at a held row's version, an upsert at a deleted key's: other content, differing;
    # a deletion at a deleted key's version is the same content: stale
    r = write(prices, "restated.csv", f"S1,apple,{ts(2)}Z,,D", f"S1,pear,{ts(3)}Z,0.70,U", f"S2,plum,{ts(3)}Z,,D")
    result = prices.run(r, "--lookback", "30d", now=NOW)
    s = checked(prices, result, r)
    assert (s["differing"], s["stale"], s["deleted"], s["loaded"]) == (2, 1, 0, 0)
    assert outcomes(prices, 4) == [(str(r), 2, key("apple"), "differing", held(ts(2), 1, applying=False)),
                                   (str(r), 3, key("pear"), "differing", f"deleted at {ts(3)} by run 1"),
                                   (str(r), 4, key("plum", "S2"), "stale", f"deleted at {ts(3)} by run 1")]
    assert "note: 2 records at the version prices holds, with other values: not applied" in result.stderr
    assert state(prices) == before
    assert prices.rows("select run_id, differing, corrected from run_log order by run_id") == [
        (1, 0, 0), (2, 0, 0), (3, 3, 0), (4, 2, 0)]
    runs = prices.run("--runs")
    assert runs.code == 0, runs.stderr
    table = runs.stdout.splitlines()
    assert "differing" in table[0].split(), table[0]
    at = table[0].split().index("differing")
    assert [line.split()[at] for line in table[1:5]] == ["0", "0", "3", "2"], runs.stdout


# ---------------------------------------------------------------------------------------------
# 5. in a feed that applies corrections, a later delivery's deletion at the stored version
#    removes the row, and its upsert at a deleted key's version brings the key back; late first


def test_a_later_delivery_deletes_at_the_stored_version_and_restores_a_deleted_key(prices):
    a = copy(prices, SAMPLE, "prices_sample.csv")
    load(prices, a)
    x = write(prices, "restated.csv",
              f"S1,pear,{ts(3)}Z,0.70,U",     # 2: at the version of A's deletion of S1 pear
              f"S2,apple,{ts(1)}Z,,D",        # 3: at the version of A's S2 apple
              f"S2,plum,{ts(3)}Z,,D",         # 4: A deleted it at that version: the same
              f"S2,pear,{ts(4)}Z,0.9000,U")   # 5: A's own price (0.90), as a number: the same
    # skipped by the watermark, the two a lookback would apply are late
    late = prices.run(x, now=NOW)
    s = checked(prices, late, x)
    assert (s["skipped"], s["late_skipped"], s["oldest_late"]) == (4, 2, ts(1))
    command = re.search(r"To load them: (.*)$", late.stderr, re.M).group(1)
    assert "--lookback 4d" in command, command

    s = checked(prices, run_suggested(prices, command), x)
    assert (s["loaded"], s["corrected"], s["inserted"], s["deleted"], s["stale"], s["differing"]) == (
        1, 1, 0, 1, 2, 0)
    assert outcomes(prices, 3) == [(str(x), 2, key("pear"), "loaded", "corrected"),
                                   (str(x), 3, key("apple", "S2"), "deleted", "removed"),
                                   (str(x), 4, key("plum", "S2"), "stale", f"deleted at {ts(3)} by run 1"),
                                   (str(x), 5, key("pear", "S2"), "stale",
                                    f"prices already holds a version from {ts(4)}")]
    expected = sample_rows(1, a)
    del expected[key("apple", "S2")]
    expected[key("pear")] = (ts(3), 0.7, 3, str(x), 2)
    after = (expected, {key("plum", "S2"): (ts(3), 1, str(a), 8), key("apple", "S2"): (ts(1), 3, str(x), 3)},
             ts(5))
    assert state(prices) == after

    # A again: its deletion of S1 pear and its S2 apple are an earlier delivery's: differing
    again = prices.run(a, "--lookback", "4d", now=NOW)
    s = checked(prices, again, a)
    assert (s["differing"], s["stale"], s["loaded"], s["deleted"], s["superseded"]) == (2, 4, 0, 0, 3)
    got = outcome_of(prices, 4)
    assert (got[(str(a), 7)], got[(str(a), 4)]) == (
        ("differing", held(ts(3), 3)), ("differing", f"deleted at {ts(1)} by run 3, a later delivery"))
    assert state(prices) == after


# ---------------------------------------------------------------------------------------------
# 4. equal versions within one run: the later delivery wins, wherever its file is on the command
#    line; a content seen before keeps its place; new contents are numbered in command-line order


def test_within_a_run_the_later_delivery_wins_at_an_equal_version(prices):
    x = write(prices, "x.csv", f"S1,k1,{T},1.00,U")
    y = write(prices, "y.csv", f"S1,k1,{T},2.00,U", f"S1,k2,{T},2.00,U")
    z = write(prices, "z.csv", f"S1,k2,{T},3.00,U")
    s = checked(prices, prices.run(x, now=NOW), x)
    assert (s["inserted"], deliveries(prices)) == (1, [(1, 1, str(x))])

    # a dry run numbers nothing it keeps
    dry = prices.run(y, x, z, "--dry-run", now=NOW)
    assert dry.code == 0 and (dry.summary["corrected"], dry.summary["inserted"]) == (1, 1), dry.stderr
    assert deliveries(prices) == [(1, 1, str(x))] and prices.rows("select count(*) from run_log") == [(1,)]

    # y (new: 2) before x (seen: 1) and z (new: 3): y's k1 beats x's, though x comes later;
    # z's k2 beats y's (later delivery, later in the input)
    s = checked(prices, prices.run(y, x, z, now=NOW), y, x, z)
    assert (s["corrected"], s["inserted"], s["superseded"], s["same_content"]) == (1, 1, 2, [same(x, 1)])
    assert deliveries(prices) == [(1, 1, str(x)), (2, 2, str(y)), (3, 2, str(z))]
    assert run_files(prices, 2) == {str(y): 2, str(x): 1, str(z): 3}
    assert outcome_of(prices, 2) == {
        (str(y), 2): ("loaded", "corrected"),
        (str(y), 3): ("superseded", f"the record for this key on line 2 of {z} wins (same updated_at, later in "
                                    "the input)"),
        (str(x), 2): ("superseded", f"the record for this key on line 2 of {y} wins (same updated_at, a later "
                                    "delivery)"),
        (str(z), 2): ("loaded", "inserted")}
    assert rows(prices) == {key("k1"): (T, 2.0, 2, str(y), 2), key("k2"): (T, 3.0, 2, str(z), 2)}

    # w (new: 4) first, then z and y (seen: 3 and 2): w wins both keys, its k1 with x's value
    w = write(prices, "w.csv", f"S1,k2,{T},4.00,U", f"S1,k1,{T},1.00,U")
    s = checked(prices, prices.run(w, z, y, now=NOW), w, z, y)
    assert (s["corrected"], s["inserted"], s["superseded"], s["stale"]) == (2, 0, 3, 0)
    assert s["same_content"] == [same(y, 2), same(z, 2)]
    assert deliveries(prices)[-1] == (4, 3, str(w))
    later = "(same updated_at, a later delivery)"
    assert outcome_of(prices, 3) == {
        (str(w), 2): ("loaded", "corrected"), (str(w), 3): ("loaded", "corrected"),
        (str(z), 2): ("superseded", f"the record for this key on line 2 of {w} wins {later}"),
        (str(y), 2): ("superseded", f"the record for this key on line 3 of {w} wins {later}"),
        (str(y), 3): ("superseded", f"the record for this key on line 2 of {w} wins {later}")}
    assert rows(prices) == {key("k1"): (T, 1.0, 3, str(w), 3), key("k2"): (T, 4.0, 3, str(w), 2)}


# ---------------------------------------------------------------------------------------------
# 6. a replayed dead letter keeps its file's delivery: it corrects a row of an earlier delivery,
#    not one of a later; and once applied, an earlier delivery does not undo it


def test_a_replayed_dead_letter_keeps_its_files_delivery(prices):
    a = copy(prices, SAMPLE, "prices_sample.csv")
    load(prices, a)
    b = write(prices, "reissue_bad.csv", f"S1,apple,{ts(2)}Z,0.49,U",
              f"S2,apple,{ts(1)}Z,x.59,U",    # rejected: fixed and replayed below (A's row: delivery 1)
              f"S2,pear,{ts(4)}Z,0.95x,U")    # rejected: ... (by then C's row: delivery 3)
    s = load(prices, b, "--lookback", "4d")
    assert (s["corrected"], s["rejected"], s["dead_letters"]) == (1, 2, 2)
    # A again: an earlier delivery (S1 apple differs from B's; the others are A's own)
    s = load(prices, a, "--lookback", "4d")
    assert (s["differing"], s["stale"], s["loaded"]) == (1, 5, 0)
    # C, a new delivery, on standard input
    c = write(prices, "c.csv", f"S2,pear,{ts(4)}Z,0.99,U")
    s = checked(prices, run_stdin(prices, c, "--lookback", "4d"), lines={"-": {2}})
    assert (s["corrected"], s["loaded"], run_files(prices, 4)) == (1, 1, {"-": 3})
    assert rows(prices)[key("pear", "S2")] == (ts(4), 0.99, 4, "-", 2)

    prices.rows("update dead_letter set raw = replace(replace(raw, 'x.59', '0.59'), '0.95x', '0.95') "
                "where status = 'open' and source = ?", str(b))
    assert sorted(prices.rows("select line_no, raw from dead_letter where status = 'open' and source = ?",
                              str(b))) == [(3, f"S2,apple,{ts(1)}Z,0.59,U"), (4, f"S2,pear,{ts(4)}Z,0.95,U")]
    replay = prices.run("--replay-dead-letters", now=NOW)
    # (A's three rejects, still open, go too, and are rejected again)
    s = checked(prices, replay, lines={str(b): {3, 4}, str(a): {9, 10, 11}})
    assert (s["kind"], s["corrected"], s["differing"], s["dead_letters_resolved"], s["dead_letters_repeated"]) == (
        "replay", 1, 1, 2, 3)
    got = outcome_of(prices, 5)
    assert (got[(str(b), 3)], got[(str(b), 4)]) == (("loaded", "corrected"), ("differing", held(ts(4), 4)))
    expected = {**sample_rows(1, a), key("apple"): (ts(2), 0.49, 2, str(b), 2),
                key("apple", "S2"): (ts(1), 0.59, 5, str(b), 3), key("pear", "S2"): (ts(4), 0.99, 4, "-", 2)}
    assert rows(prices) == expected

    # A once more: every price it restates is an earlier delivery's than the one stored, the
    # replayed one too (B's): nothing changes
    s = load(prices, a, "--lookback", "4d")
    assert rows(prices) == expected
    assert (s["differing"], s["stale"], s["loaded"], s["corrected"]) == (3, 3, 0, 0)
    got = outcome_of(prices, 6)
    assert got[(str(a), 4)] == ("differing", held(ts(1), 5))


def test_a_replayed_dead_letter_keeps_its_own_contents_delivery_when_its_path_was_reissued(prices):
    """p.csv is re-issued with other content at the same path, and both contents leave a dead
    letter at line 3: each, replayed, is its own content's delivery, not the newest one's."""
    p = write(prices, "p.csv", f"S1,k1,{T},1.00,U", f"S1,k2,{T},x1,U")   # delivery 1: k2 rejected
    q = write(prices, "q.csv", f"S1,k2,{T},7.00,U")                         # delivery 2: k2 stored
    load(prices, p)
    load(prices, q)
    write(prices, "p.csv", f"S1,k1,{T},1.00,U", f"S1,k5,{T},y5,U")          # delivery 3: k5 rejected
    load(prices, p)
    assert deliveries(prices) == [(1, 1, str(p)), (2, 2, str(q)), (3, 3, str(p))]
    assert prices.rows("select line_no, status, run_id from dead_letter order by dead_letter_id") == [
        (3, "open", 1), (3, "open", 3)]
    prices.rows("update dead_letter set raw = replace(replace(raw, 'x1', '1.50'), 'y5', '5.50')")

    s = checked(prices, prices.run("--replay-dead-letters", now=NOW), one_per_line=False)

    # k2 of delivery 1 is an earlier delivery's than q's row: left out; k5 is new
    assert (s["input_records"], s["differing"], s["inserted"], s["corrected"]) == (2, 1, 1, 0)
    assert outcomes(prices, 4) == [(str(p), 3, key("k2"), "differing", held(T, 2)),
                                   (str(p), 3, key("k5"), "loaded", "inserted")]
    assert rows(prices) == {key("k1"): (T, 1.0, 1, str(p), 2), key("k2"): (T, 7.0, 2, str(q), 2),
                            key("k5"): (T, 5.5, 4, str(p), 3)}


def test_a_dead_letter_from_before_deliveries_replays_as_the_earliest_delivery(prices):
    """Release da0afee's database (schema version 8, before deliveries) holds an open dead letter of
    the prices sample, S2 apple at 2025-03-02 (line 9). After the upgrade, a new file's record of
    that key and version is rejected too; both fixed and replayed, the new file's wins, as a row
    stored before deliveries counts as the earliest delivery, on either engine."""
    fixtures = ROOT / "tests" / "fixtures" / "release_da0afee"
    if prices.engine == "sqlite":
        shutil.copy(fixtures / "pipeline.db", prices.db)
    else:
        import psycopg
        import sqlparse
        with psycopg.connect(prices.db, autocommit=True) as conn:
            for statement in sqlparse.split((fixtures / "pipeline.postgresql.sql").read_text()):
                if statement.strip():
                    conn.execute(statement)
    old = "/tmp/v8/data/prices_sample.csv"  # (where release da0afee's run 9 read it)
    assert prices.rows("select run_id, raw from dead_letter where source = ? and line_no = 9 and status = 'open'",
                       old) == [(9, f"S2,apple,{ts(2)}Z,abc,U")]
    n = write(prices, "restated.csv", f"S2,apple,{ts(2)}Z,abd,U")
    s = load(prices, n, "--lookback", "30d")
    assert (s["rejected"], s["dead_letters"], deliveries(prices)) == (1, 1, [(1, s["run_id"], str(n))])
    prices.rows("update dead_letter set raw = replace(replace(raw, 'abc', '0.51'), 'abd', '0.52') "
                "where feed = 'prices' and status = 'open'")

    s = checked(prices, prices.run("--replay-dead-letters", now=NOW),
                lines={old: {9, 10, 11}, str(n): {2}})

    assert (s["updated"], s["superseded"], s["rejected"]) == (1, 1, 2)
    assert rows(prices)[key("apple", "S2")] == (ts(2), 0.52, s["run_id"], str(n), 2)
    got = outcome_of(prices, s["run_id"])
    assert got[(old, 9)][0] == "superseded"
    assert got[(old, 9)][1].startswith(f"the record for this key on line 2 of {n} wins (same updated_at, ")


def test_a_feed_that_applies_corrections_with_a_strict_guard_is_refused(tmp_path):
    """A correction is at the stored version: an upsert (or delete) guard that lets only a newer
    version through would keep it out while the run counted it corrected. Refused before the
    database is opened."""
    definition = tmp_path / "strict.sql"
    text = (ROOT / "sql" / "feeds" / "prices.sql").read_text()
    assert text.count(">= prices.updated_at") == 1 and text.count(">= stored.updated_at") == 1
    definition.write_text(text.replace(">= prices.updated_at", "> prices.updated_at"))
    done = subprocess.run([sys.executable, str(ROOT / "runner.py"), str(ROOT / "data" / "prices_sample.csv"),
                           "--feed", str(definition), "--db", str(tmp_path / "p.db")],
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "corrections = 'apply'" in done.stderr and "upsert section" in done.stderr and ">=" in done.stderr
    assert "delete section" not in done.stderr  # (its guard takes >=)
    assert not (tmp_path / "p.db").exists()
