"""Dead letters closed by hand, or fixed in a file (issue 22, item 4): --dismiss-dead-letters closes
open ones for good (never replayed, never pruned, listed in closed_dead_letters);
--export-dead-letters writes the open ones as JSON Lines, and --replay-dead-letters --from PATH
replays exactly the ones PATH names, with their edited raw. Every refusal changes nothing. Through
the CLI, on both engines, rows read back with SQL."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import ORDERS_SAMPLE, ROOT, SAMPLE

NOW = "2025-02-01T00:00:00"
LINE_5 = "evt-004,2025-02-30T10:00:00,user-3,7.25"     # dead letter 4: not a real date
LINE_7 = "evt-006,2025-01-15T10:45:00,user-4,twelve"   # dead letter 6: not a number
REASON_5 = "event_ts is not a valid timestamp: 2025-02-30T10:00:00"
REASON_7 = "amount is not a number: twelve"


def sample_loaded(loader):
    """The sample (two rejects: dead letters 4, line 5, and 6, line 7), from a copy in tmp."""
    sample = loader.tmp / "sample_input.txt"
    shutil.copy(SAMPLE, sample)
    result = loader.run(sample)
    assert result.code == 0, result.stderr
    return sample


def dead_letters(loader) -> list[tuple]:
    return loader.rows("select dead_letter_id, status, resolved_by_run, dismissed_at, dismiss_reason, raw, reason "
                       "from dead_letter order by 1")


def unchanged(loader) -> dict:
    """What a refused command must leave as it was."""
    return {"dead_letter": loader.table("dead_letter"), "run_log": loader.table("run_log"),
            "events": loader.table("events"), "lineage": loader.rows("select count(*) from lineage")}


def export(loader, name="fix.jsonl", *args) -> tuple[list[dict], dict]:
    path = loader.tmp / name
    result = loader.run("--export-dead-letters", path, *args)
    assert result.code == 0, result.stderr
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines], json.loads(result.stdout)


def write_lines(path, objects) -> None:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")


# -- --dismiss-dead-letters -------------------------------------------------------------------

def test_a_dismissed_dead_letter_is_closed_for_good(loader):
    sample = sample_loaded(loader)

    done = loader.run("--dismiss-dead-letters", "4", "--reason", "a test record upstream", now="2025-02-03T00:00:00")

    assert done.code == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {"feed": "events", "dismissed": 1, "dismissed_at": "2025-02-03T00:00:00",
                      "dismiss_reason": "a test record upstream",
                      "dead_letters": [{"dead_letter_id": 4, "source": str(sample), "line_no": 5, "reason": REASON_5}]}
    assert done.stderr.startswith("dismissed 1 dead letter of the feed events (4): no replay sends it again")
    assert "select * from closed_dead_letters where feed = 'events' and status = 'dismissed'" in done.stderr
    assert dead_letters(loader) == [
        (4, "dismissed", None, "2025-02-03T00:00:00", "a test record upstream", LINE_5, REASON_5),
        (6, "open", None, None, None, LINE_7, REASON_7)]
    assert loader.rows("select dead_letter_id, status, dismissed_at, dismiss_reason from closed_dead_letters") == [
        (4, "dismissed", "2025-02-03T00:00:00", "a test record upstream")]
    assert loader.rows("select dead_letter_id from open_dead_letters") == [(6,)]
    assert loader.rows("select count(*) from run_log") == [(1,)]  # no run: a dismissal is no load

    # never replayed: the replay sends dead letter 6 alone
    replay = loader.run("--replay-dead-letters")
    assert replay.code == 0, replay.stderr
    assert (replay.summary["input_records"], replay.summary["rejected"]) == (1, 1)
    assert loader.rows("select line_no from lineage where run_id = ?", replay.summary["run_id"]) == [(7,)]
    # a rerun of its file files it not again, and it stays dismissed
    again = loader.run(sample)
    assert again.code == 0, again.stderr
    assert (again.summary["dead_letters"], again.summary["dead_letters_repeated"]) == (0, 2)
    assert dead_letters(loader)[0][:5] == (4, "dismissed", None, "2025-02-03T00:00:00", "a test record upstream")

    # with the resolved ones in closed_dead_letters
    loader.rows("update dead_letter set raw = replace(raw, 'twelve', '12') where dead_letter_id = 6")
    fixed = loader.run("--replay-dead-letters")
    assert fixed.code == 0 and fixed.summary["dead_letters_resolved"] == 1, fixed.stderr
    assert loader.rows("select dead_letter_id, status, resolved_by_run, dismiss_reason from closed_dead_letters "
                       "order by 1") == [(4, "dismissed", None, "a test record upstream"),
                                         (6, "resolved", fixed.summary["run_id"], None)]
    assert loader.rows("select count(*) from open_dead_letters") == [(0,)]


def test_a_dismissal_of_several_and_of_another_feed(loader):
    sample_loaded(loader)
    assert loader.run(ORDERS_SAMPLE, "--feed", "orders").code == 0
    orders = [r[0] for r in loader.rows("select dead_letter_id from dead_letter where feed = 'orders' order by 1")]
    assert len(orders) == 3

    done = loader.run("--dismiss-dead-letters", *map(str, orders), str(orders[0]), "--reason", "closed store",
                      "--feed", "orders")

    assert done.code == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["feed"], result["dismissed"]) == ("orders", 3)
    assert [d["dead_letter_id"] for d in result["dead_letters"]] == orders
    assert f"dismissed 3 dead letters of the feed orders ({', '.join(map(str, orders))})" in done.stderr
    assert loader.rows("select feed, status, count(*) from dead_letter group by feed, status order by 1, 2") == [
        ("events", "open", 2), ("orders", "dismissed", 3)]


def test_a_dismissal_is_refused_whole_naming_what_each_id_is(loader):
    sample_loaded(loader)
    assert loader.run(ORDERS_SAMPLE, "--feed", "orders").code == 0
    other_feed = loader.rows("select min(dead_letter_id) from dead_letter where feed = 'orders'")[0][0]
    assert loader.run("--dismiss-dead-letters", "4", "--reason", "first").code == 0
    before = unchanged(loader)

    cases = [(("6", "4"), "dead letter 4 is dismissed already (on 2025-02-01T00:00:00: first)"),
             (("6", "999"), "there is no dead letter 999"),
             (("6", str(other_feed)), (f"dead letter {other_feed} is open, of the feed orders, not events "
                                       "(--feed orders names it)"))]
    for ids, said in cases:
        done = loader.run("--dismiss-dead-letters", *ids, "--reason", "again")
        assert done.code == 2, (ids, done.stderr)
        assert done.stdout == ""
        assert done.stderr.startswith(f"error: nothing was dismissed: {said}. --dismiss-dead-letters takes "
                                      "open dead letters of the feed events; to list them: "), done.stderr
        assert unchanged(loader) == before  # dead letter 6, open and named first, is open still

    # resolved, then removed by --prune-history
    loader.rows("update dead_letter set raw = replace(raw, 'twelve', '12') where dead_letter_id = 6")
    assert loader.run("--replay-dead-letters").code == 0
    resolved = loader.run("--dismiss-dead-letters", "6", "--reason", "late")
    assert resolved.code == 2 and "dead letter 6 is resolved (by run 3: its record passed)" in resolved.stderr
    assert loader.run("--prune-history", "1d", now="2025-04-01T00:00:00").code == 0
    pruned = loader.run("--dismiss-dead-letters", "6", "--reason", "late")
    assert pruned.code == 2
    assert "dead letter 6 was resolved by run 3 and then removed by --prune-history" in pruned.stderr


def test_a_dismissal_needs_a_reason_and_ids(sqlite_loader):
    loader = sqlite_loader
    sample_loaded(loader)
    before = unchanged(loader)
    for args, said in [(("--dismiss-dead-letters", "4"), "--dismiss-dead-letters needs --reason TEXT"),
                       (("--dismiss-dead-letters", "4", "--reason", "  "), "--reason is empty"),
                       (("--dismiss-dead-letters", "four", "--reason", "x"), "'four' is not a dead letter's id"),
                       (("--dismiss-dead-letters", "0", "--reason", "x"), "'0' is not a dead letter's id"),
                       (("--replay-dead-letters", "--reason", "x"), "--reason goes with --dismiss-dead-letters"),
                       (("--dismiss-dead-letters", "4", "--reason", "x", "--dry-run"), "--dry-run applies to"),
                       (("--dismiss-dead-letters", "4", "--reason", "x", "--lookback", "1d"),
                        "--lookback applies to loads, not to --dismiss-dead-letters"),
                       (("--dismiss-dead-letters", "4", "--reason", "x", "--trace", "evt-1"), "choose one of")]:
        done = loader.run(*args)
        assert done.code == 2 and said in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert unchanged(loader) == before
    missing = loader.tmp / "missing.db"
    done = subprocess.run([sys.executable, str(ROOT / "runner.py"), "--dismiss-dead-letters", "4", "--reason", "x",
                           "--db", str(missing)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and not missing.exists(), done.stderr


def test_prune_never_removes_a_dismissed_dead_letter(loader):
    sample_loaded(loader)
    assert loader.run("--dismiss-dead-letters", "4", "--reason", "never to be fixed").code == 0
    loader.rows("update dead_letter set raw = replace(raw, 'twelve', '12') where dead_letter_id = 6")
    assert loader.run("--replay-dead-letters").code == 0

    pruned = loader.run("--prune-history", "30d", now="2025-04-01T00:00:00")

    assert pruned.code == 0, pruned.stderr
    result = json.loads(pruned.stdout)
    assert (result["runs_pruned"], result["dead_letters_removed"]) == (2, 1)  # the resolved one alone
    assert loader.rows("select dead_letter_id, status, dismiss_reason from dead_letter") == [
        (4, "dismissed", "never to be fixed")]
    assert loader.rows("select dead_letter_id, status from closed_dead_letters") == [(4, "dismissed")]
    assert loader.rows("select dead_letter_id from dead_letter_pruned") == [(6,)]


def run_stopped(loader, stop: str, *args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "runner.py"), *map(str, args), "--db", str(loader.db), "--now", NOW]
    env = {**os.environ, "LOADER_TEST_STOP": stop}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=loader.tmp)


def test_a_stop_during_a_dismissal_is_told_from_the_database(loader):
    sample_loaded(loader)
    before = unchanged(loader)
    rolled_back = run_stopped(loader, "before-commit:1:INT", "--dismiss-dead-letters", "4", "6", "--reason", "x")
    assert rolled_back.returncode == 130 and rolled_back.stdout == "", rolled_back.stderr
    assert "stopped by Ctrl-C: no dead letter was dismissed (rolled back)" in rolled_back.stderr
    assert unchanged(loader) == before

    kept = run_stopped(loader, "after-commit:1:TERM", "--dismiss-dead-letters", "4", "6", "--reason", "x")
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["dismissed"] == 2
    assert "stopped by SIGTERM after the dismissal was committed" in kept.stderr
    assert loader.rows("select dead_letter_id, status, dismissed_at from dead_letter order by 1") == [
        (4, "dismissed", NOW), (6, "dismissed", NOW)]


# -- --export-dead-letters, then --replay-dead-letters --from ----------------------------------

def test_export_edit_and_replay_from_the_file(loader):
    sample = sample_loaded(loader)
    assert loader.run(ORDERS_SAMPLE, "--feed", "orders").code == 0  # another feed's: not exported
    before = unchanged(loader)

    lines, result = export(loader)

    assert unchanged(loader) == before  # it only reads
    assert [list(line) for line in lines] == [["dead_letter_id", "source", "line_no", "reason", "raw"]] * 2
    assert lines == [{"dead_letter_id": 4, "source": str(sample), "line_no": 5, "reason": REASON_5, "raw": LINE_5},
                     {"dead_letter_id": 6, "source": str(sample), "line_no": 7, "reason": REASON_7, "raw": LINE_7}]
    path = loader.tmp / "fix.jsonl"
    assert (result["feed"], result["path"], result["dead_letters"]) == ("events", str(path), 2)
    replay_command = result["replay"]
    assert replay_command.startswith(shlex.join([sys.executable, str(ROOT / "runner.py"), "--replay-dead-letters",
                                                 "--from", str(path), "--db", str(loader.db), "--feed", "events"]))
    assert replay_command.endswith(f"--now {NOW}")

    # one fixed, one still broken (another way)
    lines[0]["raw"] = "evt-004,2025-02-31T10:00:00,user-3,7.25"
    lines[1]["raw"] = "evt-006,2025-01-15T10:45:00,user-4,12"
    write_lines(path, lines)
    # the suggested command, as given, from another directory
    done = subprocess.run(shlex.split(replay_command), capture_output=True, text=True, timeout=120, cwd="/")

    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout)
    run = s["run_id"]
    assert (s["kind"], s["input_records"], s["loaded"], s["rejected"], s["dead_letters"],
            s["dead_letters_resolved"], s["replayed_from"]) == ("replay", 2, 1, 1, 0, 1, str(path))
    assert loader.rows("select dead_letter_id, status, resolved_by_run, raw, received_raw, reason "
                       "from dead_letter where feed = 'events' order by 1") == [
        (4, "open", None, "evt-004,2025-02-31T10:00:00,user-3,7.25", LINE_5,
         "event_ts is not a valid timestamp: 2025-02-31T10:00:00"),
        (6, "resolved", run, "evt-006,2025-01-15T10:45:00,user-4,12", LINE_7, REASON_7)]
    # the edited record is loaded, from the dead letter's file and line, by the replay
    assert loader.rows("select event_ts, user_id, amount, run_id, source, line_no from events "
                       "where event_id = 'evt-006'") == [("2025-01-15T10:45:00", "user-4", 12, run, str(sample), 7)]
    assert loader.rows("select kind from run_log where run_id = ?", run) == [("replay",)]
    assert loader.rows("select step, event_id, source, line_no, detail from lineage where run_id = ? "
                       "order by lineage_id", run) == [
        ("rejected", "evt-004", str(sample), 5, "event_ts is not a valid timestamp: 2025-02-31T10:00:00"),
        ("staged", "evt-006", str(sample), 7, None), ("loaded", "evt-006", str(sample), 7, "inserted")]
    assert loader.rows("select count(*) from dead_letter where feed = 'orders' and status = 'open'") == [(3,)]

    # a rerun of the original file files nothing again; the export now holds the one still open
    again = loader.run(sample)
    assert again.code == 0 and (again.summary["dead_letters"], again.summary["dead_letters_repeated"]) == (0, 2)
    lines, _ = export(loader)
    assert [(line["dead_letter_id"], line["raw"]) for line in lines] == [
        (4, "evt-004,2025-02-31T10:00:00,user-3,7.25")]


def test_replay_from_sends_exactly_the_dead_letters_the_file_names(loader):
    sample_loaded(loader)
    lines, _ = export(loader)
    path = loader.tmp / "fix.jsonl"
    write_lines(path, [dict(lines[1], raw="evt-006,2025-01-15T10:45:00,user-4,12")])  # 4 left out

    done = loader.run("--replay-dead-letters", "--from", path)

    assert done.code == 0, done.stderr
    assert (done.summary["input_records"], done.summary["loaded"]) == (1, 1)
    assert dead_letters(loader) == [(4, "open", None, None, None, LINE_5, REASON_5),
                                    (6, "resolved", 2, None, None, "evt-006,2025-01-15T10:45:00,user-4,12",
                                     REASON_7)]
    # a line left as exported is replayed as it is: still open, with the same reason
    write_lines(path, [lines[0]])
    same = loader.run("--replay-dead-letters", "--from", path)
    assert same.code == 0 and (same.summary["input_records"], same.summary["rejected"]) == (1, 1), same.stderr
    assert dead_letters(loader)[0] == (4, "open", None, None, None, LINE_5, REASON_5)


def test_a_dry_run_replay_from_keeps_nothing(loader):
    sample_loaded(loader)
    lines, _ = export(loader)
    path = loader.tmp / "fix.jsonl"
    write_lines(path, [dict(line, raw=line["raw"].replace("twelve", "12")) for line in lines])
    before = unchanged(loader)

    dry = loader.run("--replay-dead-letters", "--from", path, "--dry-run")

    assert dry.code == 0, dry.stderr
    assert (dry.summary["dry_run"], dry.summary["loaded"], dry.summary["dead_letters_resolved"]) == (True, 1, 1)
    assert unchanged(loader) == before  # not even the edited raw


def test_an_escaped_record_edited_in_the_file_is_replayed(loader):
    """A line that was not UTF-8 is stored escaped: a plain replay keeps it open; its text fixed
    in the export's file is parsed as the record."""
    batch = loader.tmp / "latin1.csv"
    batch.write_bytes(b"event_id,event_ts,user_id,amount\nevt-020,2025-01-10T00:00:00,Jos\xe9,5\n")
    assert loader.run(batch).code == 0
    plain = loader.run("--replay-dead-letters")
    assert plain.code == 0 and plain.summary["rejected"] == 1, plain.stderr
    lines, _ = export(loader)
    assert lines[0]["raw"] == "evt-020,2025-01-10T00:00:00,Jos\\xe9,5"
    assert lines[0]["reason"].startswith("is not valid UTF-8")
    write_lines(loader.tmp / "fix.jsonl", [dict(lines[0], raw="evt-020,2025-01-10T00:00:00,José,5")])

    done = loader.run("--replay-dead-letters", "--from", loader.tmp / "fix.jsonl")

    assert done.code == 0, done.stderr
    assert (done.summary["loaded"], done.summary["dead_letters_resolved"]) == (1, 1)
    assert loader.rows("select user_id from events where event_id = 'evt-020'") == [("José",)]


def test_replay_from_is_refused_for_a_dead_letter_not_open_as_exported(loader):
    sample_loaded(loader)
    assert loader.run(ORDERS_SAMPLE, "--feed", "orders").code == 0
    other_feed = loader.rows("select min(dead_letter_id) from dead_letter where feed = 'orders'")[0][0]
    lines, _ = export(loader)
    # dead letter 4 dismissed, then the rest resolved by a replay of its own
    assert loader.run("--dismiss-dead-letters", "4", "--reason", "test record").code == 0
    loader.rows("update dead_letter set raw = replace(raw, 'twelve', '12') where dead_letter_id = 6")
    assert loader.run("--replay-dead-letters").code == 0
    bad = loader.batch("evt-030,2025-01-10T00:00:00,user-9,nine", "evt-031,2025-01-10T00:00:00,user-9,x")
    assert loader.run(bad).code == 0
    opened = loader.rows("select dead_letter_id, source, line_no, raw from dead_letter where status = 'open' "
                         "and feed = 'events' order by 1")
    assert len(opened) == 2
    (first, source, line_no, raw), (second, *_) = opened
    good = {"dead_letter_id": first, "source": source, "line_no": line_no, "reason": "", "raw": raw}
    path = loader.tmp / "edits.jsonl"
    before = unchanged(loader)

    for other, said in [
            (lines[0], "dead letter 4 is dismissed already (on 2025-02-01T00:00:00: test record)"),
            (lines[1], "dead letter 6 is resolved (by run 3: its record passed)"),
            (dict(good, dead_letter_id=999), "there is no dead letter 999"),
            (dict(good, dead_letter_id=other_feed), (f"dead letter {other_feed} is open, of the feed orders, not "
                                                     "events (--feed orders names it)")),
            (dict(good, dead_letter_id=second, source="/elsewhere.csv"),
             (f'dead letter {second}\'s source is "{source}", not "/elsewhere.csv": leave source and line_no as '
              "exported")),
            (dict(good, dead_letter_id=second, line_no=99),
             f"dead letter {second}'s line_no is {line_no + 1}, not 99")]:
        write_lines(path, [good, other])
        done = loader.run("--replay-dead-letters", "--from", path)
        assert done.code == 2, (other, done.stderr)
        assert done.stdout == ""
        assert done.stderr.startswith(f"error: --from {path} cannot be replayed, nothing was changed:\n"
                                      f"  line 2: {said}"), done.stderr
        assert "Each line names an open dead letter of the feed events" in done.stderr
        assert unchanged(loader) == before  # no run opened; the good line's dead letter is untouched


@pytest.mark.parametrize("text, said", [
    ('{"dead_letter_id": 4, "source": "s", "line_no": 5, "raw": "r"}\nnot json\n',
     "line 2: is not a JSON object (Expecting value at column 1)"),
    ('\n\n["a list"]\n', "line 3: is not a JSON object (one a line, as --export-dead-letters writes them)"),
    ('{"dead_letter_id": 4, "source": "s", "line_no": 5}\n',
     "line 1: has no raw (each line needs dead_letter_id, source, line_no, raw, as exported)"),
    ('{"dead_letter_id": 4, "source": "s", "line_no": 5, "raw": 7.25}\n', "line 1: raw is not a string but 7.25"),
    ('{"dead_letter_id": 4, "source": "s", "line_no": 5, "raw": null}\n', "line 1: raw is not a string but null"),
    ('{"dead_letter_id": "4", "source": "s", "line_no": 5, "raw": "r"}\n',
     'line 1: dead_letter_id is not a whole number from 1: "4"'),
    ('{"dead_letter_id": 4, "source": "s", "line_no": 5.0, "raw": "r"}\n', "line 1: line_no is not a whole number"),
    ('{"dead_letter_id": 4, "source": "s", "line_no": 5, "raw": "a\\u0000b"}\n', "line 1: raw contains a NUL"),
    ('{"dead_letter_id": 4, "source": "s", "line_no": 5, "raw": "\\ud800"}\n',
     "line 1: raw contains a lone surrogate"),
    ('{"dead_letter_id": 4, "source": "s", "line_no": 5, "raw": "a", "raw": "b"}\n', "line 1: has the key raw twice"),
    (('{"dead_letter_id": 4, "source": "s", "line_no": 5, "raw": "a"}\n'
      '{"dead_letter_id": 6, "source": "s", "line_no": 7, "raw": "b"}\n'
      '{"dead_letter_id": 4, "source": "s", "line_no": 5, "raw": "c"}\n'),
     "line 3: names dead letter 4 again (line 1 names it first): keep one line for it"),
])
def test_replay_from_a_malformed_file_is_refused_before_the_database_is_opened(sqlite_loader, text, said):
    loader = sqlite_loader
    sample_loaded(loader)
    path = loader.tmp / "edits.jsonl"
    path.write_text(text, encoding="utf-8")
    before = unchanged(loader)

    done = loader.run("--replay-dead-letters", "--from", path)

    assert done.code == 2, done.stderr
    assert done.stderr.startswith(f"error: --from {path} cannot be replayed, nothing was changed:\n")
    assert said in done.stderr and "Traceback" not in done.stderr
    assert unchanged(loader) == before


def test_replay_from_files_it_cannot_use(sqlite_loader):
    loader = sqlite_loader
    sample_loaded(loader)
    before = unchanged(loader)
    empty = loader.tmp / "empty.jsonl"
    empty.write_text("\n")
    nothing = loader.run("--replay-dead-letters", "--from", empty)
    assert nothing.code == 0 and json.loads(nothing.stdout) == {"replayed": 0}, nothing.stderr
    assert f"--from {empty} names no dead letters: nothing to replay" in nothing.stderr
    missing = loader.run("--replay-dead-letters", "--from", loader.tmp / "missing.jsonl")
    assert missing.code == 2 and "cannot read --from" in missing.stderr and "No such file" in missing.stderr
    latin1 = loader.tmp / "latin1.jsonl"
    latin1.write_bytes(b'{"dead_letter_id": 4, "source": "s", "line_no": 5, "raw": "Jos\xe9"}\n')
    not_utf8 = loader.run("--replay-dead-letters", "--from", latin1)
    assert not_utf8.code == 2 and "line 1: is not valid UTF-8" in not_utf8.stderr
    alone = loader.run("--from", empty)
    assert alone.code == 2 and "--from goes with --replay-dead-letters" in alone.stderr
    over = loader.run("--replay-dead-letters", "--from", empty, "--output", empty)
    assert over.code == 2 and "is the --from file" in over.stderr
    assert unchanged(loader) == before


def test_export_writes_only_where_it_may(sqlite_loader):
    loader = sqlite_loader
    sample_loaded(loader)
    for target, said in [(loader.db, "is the database (--db): writing there would replace it"),
                         (loader.tmp, "is a directory"),
                         (ROOT / "sql" / "feeds" / "events.sql", "is the feed's definition"),
                         (loader.tmp / "no" / "x.jsonl", "the directory does not exist")]:
        done = loader.run("--export-dead-letters", target)
        assert done.code == 2 and said in done.stderr, (target, done.stderr)
    with_output = loader.run("--export-dead-letters", loader.tmp / "x.jsonl", "--output", loader.tmp / "y.json")
    assert with_output.code == 2 and "--output does not go with --export-dead-letters" in with_output.stderr

    # an earlier export is replaced whole; with none open, by an empty file
    path = loader.tmp / "fix.jsonl"
    path.write_text("my old edits\n")
    lines, _ = export(loader)
    assert len(lines) == 2
    assert loader.run("--dismiss-dead-letters", "4", "6", "--reason", "x").code == 0
    lines, result = export(loader)
    assert lines == [] and path.read_text() == ""
    assert (result["dead_letters"], result["replay"]) == (0, None)


def test_export_reads_and_never_upgrades_an_older_database(sqlite_loader):
    loader = sqlite_loader
    shutil.copy(ROOT / "tests" / "fixtures" / "release_bace6bc" / "pipeline.db", loader.db)
    before = loader.db.read_bytes()

    done = loader.run("--export-dead-letters", loader.tmp / "fix.jsonl")

    assert done.code == 2, done.stderr
    assert "was written by an earlier release of the loader" in done.stderr
    assert "--export-dead-letters works on it once it is upgraded in place" in done.stderr
    assert f"runner.py --upgrade --db {loader.db}" in done.stderr
    assert loader.db.read_bytes() == before and not (loader.tmp / "fix.jsonl").exists()
