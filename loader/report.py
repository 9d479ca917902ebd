"""What people read on stderr, and the --output file."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from . import safe_write
from .errors import OutputFailed


def summary_line(s: dict, see_rejects: str | None = None, deletes: bool = False, history: bool = False) -> str:
    """see_rejects: a command that shows the run's rejects (none for a dry run: it kept none);
    deletes: whether the feed declares deletes (only such a feed has deletions to count);
    history: whether it keeps a version history (windows opened, split and closed)."""
    corrected = f", {s['corrected']} corrected" if s.get("corrected") else ""
    parts = [f"{s['loaded']} loaded ({s['inserted']} new, {s['updated']} updated{corrected})",
             *([f"{s['deleted']} deleted"] if deletes or s.get("deleted") else []),
             f"{s['skipped']} skipped by the watermark", f"{s['stale']} stale",
             *([f"{s['differing']} differing"] if s.get("differing") else []),
             f"{s['superseded']} superseded", f"{s['rejected']} rejected"]
    line = f"run {s['run_id']} ({s['feed']}): {s['input_records']} records: " + ", ".join(parts)
    if s["rejected"] and see_rejects:
        line += f" (see them: {see_rejects})"
    if history:
        line += (f"; version history: {s['history_opened']} opened, {s['history_split']} split, "
                 f"{s['history_closed']} closed")
    return line + f"; watermark {s['watermark'] or 'not set yet (nothing loaded)'}"


def differing_line(s: dict, feed) -> str:
    """Records at the stored version with other values, left out: what would apply them."""
    n = s["differing"]
    records = f"{n} record{'s' if n > 1 else ''}"
    if feed.corrections == "apply":
        return (f"note: {records} at the version {feed.target} holds, with other values, from a delivery no "
                f"later than the stored one's: not applied (the later delivery wins; lineage: differing)")
    return (f"note: {records} at the version {feed.target} holds, with other values: not applied (corrections "
            f"= 'report'). To apply such corrections (the later delivery wins), declare 'apply' as corrections "
            f"in {feed.path} and load the file again (docs/feeds.md, Corrections)")


def same_content_line(same: dict) -> str:
    earlier = f"run {same['first_run_id']} loaded" if same["first_source"] == same["source"] else \
        f"run {same['first_run_id']}'s {same['first_source']}"
    return f"note: {same['source']} has the same content as {earlier}: a delivery seen before, which keeps its place"


def versions_not_compared_line(feed) -> str:
    return (f"note: the versions section of {feed.path} gives no _same (and the stored row's _run_id, "
            "_source): a record at the stored version with other values cannot be told from the same "
            "record, and counts as stale (docs/feeds.md, Corrections; sql/feeds/events.sql shows it)")


def unused_columns_line(s: dict, feed) -> str:
    names = ", ".join(s["unused_columns"])
    return (f"note: the feed {feed.name} does not read the input's column{'s' if len(s['unused_columns']) > 1 else ''} "
            f"{names}: not loaded. To load it, add it to the feed's definition ({feed.path})")


def lineage_table(run_id: int, by_step: dict) -> str:
    width = max([len("step")] + [len(step) for step in by_step])
    lines = [f"lineage of run {run_id}", f"{'step':<{width}}  entries"]
    lines += [f"{step:<{width}}  {count:>7}" for step, count in by_step.items()]
    lines.append(f"{'total':<{width}}  {sum(by_step.values()):>7}")
    return "\n".join(lines)


def repair_line(result: dict, show_query=lambda sql: sql) -> str:
    """What --repair-watermark did (run/repair_watermark.sql's row); show_query(sql): a command
    that runs the query listing the records in the future (e.g. in sqlite3 or psql)."""
    before, after = (repr(result[k]) if result[k] is not None else "not set" for k in ("watermark_before", "watermark"))
    line = f"watermark for {result['feed']} was {before}, now {after} (from {result['restored_from']}"
    if result.get("future_watermark"):
        line += (f"; {result['future_watermark']!r} is in the future: later than the run's clock + 5 minutes, "
                 f"{result['future_limit']}, and a run on that clock refuses it")
    line += ")"
    n = result.get("future_rows")
    if n:
        runs = result["future_rows_loaded_by_runs"]
        line += (f"\nnote: lineage says run{'s' if ',' in runs else ''} {runs} loaded {n} "
                 f"record{'s' if n > 1 else ''} of the feed {result['feed']} dated in the future (after "
                 f"{result['future_limit']}); nothing was deleted, and until the clock reaches "
                 f"{'their dates' if n > 1 else 'its date'}, every new record for "
                 f"{'their keys' if n > 1 else 'its key'} is stale. To list them: "
                 f"{show_query(result['future_rows_query'])}")
    return line


def clock_ahead_line(now: str, system_clock: datetime | None = None) -> str | None:
    """A warning for a load whose clock (--now, UTC like run_clock's) is more than 5 minutes ahead
    of the system clock (the tolerance stage 03 gives records), else None: its records up to then
    count as not in the future, and a watermark it leaves past the system clock makes every run on
    the system clock refused, until --repair-watermark."""
    system = (system_clock or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    pinned = datetime.fromisoformat(now)
    if pinned - system <= timedelta(minutes=5):
        return None
    return (f"warning: --now {now} is ahead of the system clock ({system.isoformat(timespec='seconds')} UTC) by "
            f"more than 5 minutes: records dated up to then are loaded, and if the watermark moves past the "
            "system clock, later runs on the system clock are refused until it catches up (--repair-watermark "
            "puts back the newest watermark that is not in the future)")


def json_value(value):
    """JSON for what the drivers return besides plain types: PostgreSQL's numeric is a Decimal
    (at most 15 digits here, so a float holds it exactly)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def write_json(path: str, result: dict, committed_run: int | None = None) -> None:
    # written beside the target and renamed, by safe_write's rules: a reader never sees half a
    # file, and only a regular file (or none yet) is ever replaced
    text = json.dumps(result, indent=2, default=json_value) + "\n"
    try:
        safe_write.write_text(path, text)
    except OSError as exc:
        done = f"run {committed_run} succeeded and was committed, but " if committed_run else ""
        raise OutputFailed(f"{done}--output {path} could not be written: {exc.strerror}") from None


def runs_table(runs: list[dict]) -> str:
    # what tells runs apart: the file, and what became of its records (a late file is not a rerun)
    # (deleted, differing: only where some run has them, as only some feeds can)
    columns = ("run_id", "feed", "kind", "status", "started_at", "source", "input_records", "loaded",
               *(("deleted",) if any(run.get("deleted") for run in runs) else ()), "skipped",
               "late_skipped", "stale", *(("differing",) if any(run.get("differing") for run in runs) else ()),
               "rejected", "watermark_after", "pruned_at", "error")
    # the error comes last and whole: it is what the reader is looking for
    rows = [[_cell(run.get(c), keep_end=c == "source") for c in columns[:-1]]
            + [" ".join(str(run.get("error") or "").split())] for run in runs]
    return _table(columns, rows) if rows else "no runs yet"


def trace_text(result: dict) -> str:
    lines = [f"{result['feed']}: {', '.join(result['key_columns'])} {result['key']}"]
    current, target = result["current"], result["target"]
    if current:
        lines.append(f"now in {target}: " + ", ".join(f"{k}={v}" for k, v in current.items()))
    elif not result["missing_table"]:
        lines.append(f"not in {target}")
    else:
        lines.append(f"not in {target}: there is no table to look in ({result['missing_table']}): no load of "
                     f"the feed {result['feed']} has created it yet, or its definition's trace section "
                     "names another table")
    deleted = result.get("deleted")
    if deleted:
        lines.append(f"deleted at {deleted['version']} by run {deleted['run_id']} "
                     f"({deleted['source']}:{deleted['line_no']}): a record of this key not newer than that is stale")
    versions = result.get("versions")
    if versions:
        columns = list(versions[0])
        lines.append(f"its versions in {target}_history, oldest first (valid_to empty: current):")
        lines.append(_table(columns, [[_cell(v.get(c), keep_end=c == "source") for c in columns] for v in versions]))
    elif versions is not None:
        lines.append(f"no versions in {target}_history")
    pruned = result.get("pruned")
    if pruned:
        runs = "1 of the feed's runs" if pruned["runs_pruned"] == 1 else \
            f"{pruned['runs_pruned']} of the feed's runs, the latest started {pruned['last_started_at']},"
        if pruned["runs_pruned"] == 1:
            runs += f" (run {pruned['last_run_id']}, started {pruned['last_started_at']})"
        lines.append(f"(the lineage of {runs} was pruned on {pruned['pruned_at']}: what they did with this "
                     "key is not shown)")
    if not result["history"]:
        kept = " whose lineage is kept" if pruned else ""
        lines.append(f"never seen in any run of the feed {result['feed']}{kept}")
        return "\n".join(lines)
    columns = ("run_id", "run_started_at", "step", "source", "line_no", "event_ts", "detail")
    # the timestamp headed in the feed's own words (lineage calls every feed's event_ts)
    headings = [result.get("timestamp_column", c) if c == "event_ts" else c for c in columns]
    lines.append(_table(headings, [[_cell(h.get(c), keep_end=c == "source") for c in columns]
                                   for h in result["history"]]))
    return "\n".join(lines)


def _cell(value, keep_end: bool = False) -> str:
    """At most 60 characters; of a path, the end (the file name is the part that matters)."""
    text = "" if value is None else str(value)
    if len(text) <= 60:
        return text
    return "..." + text[-57:] if keep_end else text[:57] + "..."


def _table(columns, rows) -> str:
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    out = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(out)


def versions_in_records_line(feed) -> str:
    return (f"note: {feed.path} defines stored_versions in its records section, as definitions for the "
            "previous release did: it works, but a large batch loads faster with the view in a versions "
            "section over run_batch (docs/feeds.md; sql/feeds/events.sql shows it)")


def late_line(s: dict, feed, command: str) -> str:
    n = s["late_skipped"]
    keys, them = ("their keys", "them") if n > 1 else ("its key", "it")
    newer = f"newer than what {feed.target} holds for {keys}"
    if feed.corrections == "apply":  # (07 counts a later delivery's correction too)
        newer += " (or, at the same version, other values from a later delivery)"
    return (f"warning: {n} late record{'s' if n > 1 else ''} skipped: older than the watermark "
            f"{s['watermark_before']}, yet {newer} "
            f"(the oldest: {s['oldest_late']}); not loaded. To load {them}: {command}")


def prune_line(r: dict, vacuum_command: str | None) -> str:
    whose = f"of the feed {r['feed']}" if r["feed"] else "of any feed"
    if not r["runs_on_record"]:
        line = f"nothing to prune: no run {whose} is on record"
    elif not r["runs_pruned"]:
        line = f"nothing to prune: no run {whose} that started before {r['pruned_before']} has lineage left"
    else:
        runs = f"run {r['first_run_id']}" if r["runs_pruned"] == 1 else \
            f"{r['runs_pruned']} runs ({r['first_run_id']} to {r['last_run_id']})"
        dry = r["dry_run"]
        line = (f"{'dry run, nothing kept: would prune' if dry else 'pruned'} the lineage of runs {whose} that "
                f"started before {r['pruned_before']}: {runs}; {_count(r['lineage_entries_removed'], 'lineage entry')} "
                f"and {_count(r['dead_letters_removed'], 'resolved dead letter')} "
                f"{'would go' if dry else 'removed'}")
    if r["vacuumed"]:
        return line + f"; vacuumed: the database is {_size(r['bytes_after'])} (was {_size(r['bytes_before'])})"
    line += f"; the database {'would stay' if r['dry_run'] else 'is'} {_size(r['bytes_after'])}"
    if r["reusable_bytes_after"]:
        line += f", {_size(r['reusable_bytes_after'])} of it free for new runs"
    if vacuum_command and r["runs_pruned"]:
        line += f". To give the space back to the file system: {vacuum_command}"
    return line


def _count(n: int, thing: str) -> str:
    plural = thing[:-1] + "ies" if thing.endswith("y") else thing + "s"
    return f"{n} {thing if n == 1 else plural}"


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def emit(text: str, done: str | None = None) -> None:
    """Data on stdout. If it cannot be written (a full disk), the work is done all the same
    (done says what it was): exit 5, not a failure. A reader that stopped reading (| head)
    chose not to: exit 0."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        stdout_lost()
    except OSError as exc:
        stdout_lost()
        what = f"{done}, but" if done else "the command is done, but"
        raise OutputFailed(f"{what} its result could not be written to stdout: "
                           f"{exc.strerror or type(exc).__name__}") from None


def stdout_lost() -> None:
    """Nothing more goes to a stdout that failed: not even the interpreter's flush at exit."""
    try:
        sys.stdout = open(os.devnull, "w")
    except OSError:
        pass

