"""A fixed dead letter stays fixed (issue 20, item 17): dead_letter keeps the text as first
rejected (received_raw) beside raw, which users fix; a rerun of the original file matches its
rejects on (feed, source, line, received_raw), open or resolved, and after --prune-history
removed a resolved one, on its key in dead_letter_pruned. On both engines."""

import json
import shutil

from conftest import SAMPLE

FIX = "update dead_letter set raw = replace(replace(raw, 'twelve', '12'), '2025-02-30', '2025-01-14')"


def accounted(summary: dict) -> None:
    assert summary["input_records"] == summary["staged"] + summary["rejected"]
    assert summary["rejected"] == summary["dead_letters"] + summary["dead_letters_repeated"]


def dead_letters(loader) -> list[tuple]:
    return loader.rows("select dead_letter_id, line_no, status, resolved_by_run, raw, reason "
                       "from dead_letter order by 1")


def received(loader) -> list[tuple]:
    return loader.rows("select dead_letter_id, received_raw from dead_letter order by 1")


def sample_fixed_and_replayed(loader):
    """The sample, its two rejects fixed in dead_letter and replayed (both resolved by run 2)."""
    sample = loader.tmp / "sample_input.txt"
    shutil.copy(SAMPLE, sample)
    assert loader.run(sample).code == 0
    loader.rows(FIX)
    replay = loader.run("--replay-dead-letters")
    assert replay.code == 0, replay.stderr
    assert (replay.summary["dead_letters_resolved"], replay.summary["loaded"]) == (2, 2)
    return sample


def test_rerunning_the_original_file_files_nothing_new(loader):
    sample = sample_fixed_and_replayed(loader)
    before = dead_letters(loader)
    assert [(d[0], d[2], d[3]) for d in before] == [(4, "resolved", 2), (6, "resolved", 2)]

    again = loader.run(sample)

    assert again.code == 0, again.stderr
    s = again.summary
    assert (s["rejected"], s["dead_letters"], s["dead_letters_repeated"], s["dead_letters_resolved"]) \
        == (2, 0, 2, 0)
    accounted(s)
    assert dead_letters(loader) == before  # still resolved, by the replay: nothing reopened, nothing added
    # lineage says what the rerun did with the two lines: rejected again, with the reason
    assert loader.rows("select line_no, step, detail from lineage where run_id = ? and step = 'rejected' "
                       "order by line_no", s["run_id"]) == [
        (5, "rejected", "event_ts is not a valid timestamp: 2025-02-30T10:00:00"),
        (7, "rejected", "amount is not a number: twelve")]
    # and a replay finds nothing to replay
    assert loader.rows("select count(*) from open_dead_letters") == [(0,)]
    replay = loader.run("--replay-dead-letters")
    assert replay.code == 0 and loader.rows("select count(*) from run_log") == [(3,)], replay.stderr
    # the text as first rejected stays beside the fixed one
    assert received(loader) == [(4, "evt-004,2025-02-30T10:00:00,user-3,7.25"),
                                (6, "evt-006,2025-01-15T10:45:00,user-4,twelve")]
    assert [d[4] for d in before] == ["evt-004,2025-01-14T10:00:00,user-3,7.25",
                                      "evt-006,2025-01-15T10:45:00,user-4,12"]


def test_a_fixed_dead_letter_not_yet_replayed_is_not_filed_twice(loader):
    sample = loader.tmp / "sample_input.txt"
    shutil.copy(SAMPLE, sample)
    assert loader.run(sample).code == 0
    loader.rows(FIX)
    fixed = dead_letters(loader)

    again = loader.run(sample)

    assert again.code == 0, again.stderr
    assert (again.summary["dead_letters"], again.summary["dead_letters_repeated"]) == (0, 2)
    assert dead_letters(loader) == fixed  # open, with the fix the replay will send
    replay = loader.run("--replay-dead-letters")
    assert replay.code == 0 and replay.summary["dead_letters_resolved"] == 2, replay.stderr


def test_a_pruned_dead_letter_is_still_known(loader):
    sample = sample_fixed_and_replayed(loader)
    pruned = loader.run("--prune-history", "30d", now="2025-04-01T00:00:00")
    assert pruned.code == 0, pruned.stderr
    assert json.loads(pruned.stdout)["dead_letters_removed"] == 2
    assert dead_letters(loader) == []

    again = loader.run(sample, now="2025-04-01T00:00:00")

    assert again.code == 0, again.stderr
    s = again.summary
    assert (s["rejected"], s["dead_letters"], s["dead_letters_repeated"]) == (2, 0, 2)
    accounted(s)
    assert dead_letters(loader) == []
    assert loader.rows("select line_no from lineage where run_id = ? and step = 'rejected' order by 1",
                       s["run_id"]) == [(5,), (7,)]
    # what the removed dead letters left: what a rerun matches
    assert loader.rows("select dead_letter_id, line_no, received_raw, resolved_by_run from dead_letter_pruned "
                       "order by 1") == [(4, 5, "evt-004,2025-02-30T10:00:00,user-3,7.25", 2),
                                         (6, 7, "evt-006,2025-01-15T10:45:00,user-4,twelve", 2)]

    # a line that differs from the one first rejected is a new reject: filed, with its id after the pruned ones
    changed = sample.read_text().replace("twelve", "thirteen")
    sample.write_text(changed)
    other = loader.run(sample, now="2025-04-01T00:00:01")
    assert other.code == 0, other.stderr
    assert (other.summary["dead_letters"], other.summary["dead_letters_repeated"]) == (1, 1)
    assert [(d[1], d[2], d[4].endswith("thirteen")) for d in dead_letters(loader)] == [(7, "open", True)]
    assert dead_letters(loader)[0][0] > 6
