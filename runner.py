"""Load a batch of keyed, timestamped records into a database, safely.

    python runner.py data/sample_input.txt
    python runner.py batch.csv --db other.db --output results.json --report
    python runner.py --repair-watermark --db other.db

The rules live in sql/NN_*.sql; this file only parses arguments, runs the
stages (loader/run.py) and reports. Exit codes: see README.md or --help.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path

from loader import report
from loader.errors import LoaderError, Refused
from loader.plan import Plan
from loader.run import Inputs, Run
from loader.engines import engine_name, open_database

HERE = Path(__file__).resolve().parent

EXIT_CODES = """exit codes:
  0  the run succeeded (some records may have been rejected: see the summary)
  1  a SQL stage failed: the run was rolled back and logged as failed
  2  refused: bad arguments, unreadable input or SQL files, or a stage refused
     the run (e.g. a corrupted watermark); nothing was changed
  3  the database cannot be used (not SQLite, read-only, missing directory, disk full)
  4  another run held the database longer than --lock-timeout
  5  the run was committed, but --output could not be written
  130 interrupted (Ctrl-C), 143 terminated (SIGTERM): rolled back, logged as failed"""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="runner.py", description="Load CSV records into a database through the SQL stages in sql/.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="CSV file(s) with a header row")
    parser.add_argument("--db", default=os.environ.get("DATABASE_URL") or str(HERE / "data" / "pipeline.db"),
                        help="a SQLite file or a postgresql:// URL (default: $DATABASE_URL, "
                             "else data/pipeline.db)")
    parser.add_argument("--output", metavar="PATH", help="also write the summary, lineage by step "
                        "and the whole run history as JSON to PATH")
    parser.add_argument("--report", action="store_true",
                        help="print lineage entries by step on stderr and add lineage_by_step to the summary")
    parser.add_argument("--repair-watermark", action="store_true",
                        help="restore the watermark from run_log (or events) and exit")
    parser.add_argument("--sql-dir", default=str(HERE / "sql"), help="stage files to run (default: sql/)")
    parser.add_argument("--now", help="pin the run's clock (UTC, e.g. 2025-01-16T00:00:00); default: now")
    parser.add_argument("--lock-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="how long to wait for another run to finish (default: 30)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no messages on stderr")
    args = parser.parse_args(argv)
    if not args.inputs and not args.repair_watermark:
        parser.error("give an input file (e.g. data/sample_input.txt) or --repair-watermark")
    if args.inputs and args.repair_watermark:
        parser.error("--repair-watermark takes no input files: it only repairs, then exits")
    if not 0 <= args.lock_timeout <= 86400:
        parser.error("--lock-timeout is a number of seconds between 0 and 86400")
    if args.output and not Path(args.output).resolve().parent.is_dir():
        parser.error(f"--output {args.output}: the directory does not exist")
    return args


def run_clock(pinned: str | None) -> str:
    if pinned is None:
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    try:
        moment = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise Refused(f"--now {pinned!r} is not a timestamp like 2025-01-16T00:00:00") from None
    if not 1000 <= moment.year <= 9998:
        raise Refused(f"--now {pinned!r}: the year must be between 1000 and 9998")
    return moment.isoformat(timespec="seconds")


def main(argv=None) -> int:
    args = parse_args(argv)
    say = (lambda message: None) if args.quiet else (lambda message: print(message, file=sys.stderr))
    # SIGTERM becomes an orderly rollback that is logged, like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    committed = False
    try:
        plan = Plan.read(Path(args.sql_dir), engine_name(args.db))
        now = run_clock(args.now)
        if args.repair_watermark:
            db = open_database(args.db, args.lock_timeout)
            result = Run(db, plan, now).repair_watermark()
            say(report.repair_line(result))
            print(json.dumps(result, indent=2))
            return 0
        inputs = Inputs.open(args.inputs)
        db = open_database(args.db, args.lock_timeout)
        run = Run(db, plan, now)
        run.load(inputs)
        committed = True
        summary = run.query("summary")[0]
        summary["timings"] = run.timings
        by_step = {row["step"]: row["entries"] for row in run.query("lineage_by_step")}
        if args.report:
            summary["lineage_by_step"] = by_step
            say(report.lineage_table(summary["run_id"], by_step))
        say(report.summary_line(summary))
        print(json.dumps(summary, indent=2), flush=True)
        if args.output:
            report.write_results(args.output, summary, by_step, run.query("history"))
        return 0
    except LoaderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # whoever read stdout stopped reading (e.g. "| head"): the run itself is done
        sys.stdout = open(os.devnull, "w")
        return 0 if committed else 1
    except SystemExit as exc:
        if exc.code == 143:
            print("stopped by SIGTERM: the run was rolled back", file=sys.stderr)
        raise
    except KeyboardInterrupt:
        print("interrupted: the run was rolled back", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not a user error: say so briefly; LOADER_DEBUG=1 shows where
        if os.environ.get("LOADER_DEBUG"):
            raise
        state = "the run was committed" if committed else "the load transaction was rolled back"
        print(f"internal error: {type(exc).__name__}: {exc} ({state}; rerun with LOADER_DEBUG=1 "
              "for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
