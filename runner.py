"""Load batches of keyed, timestamped records into a database, safely.

    python runner.py data/sample_input.txt
    python runner.py data/orders_sample.csv --feed orders
    python runner.py batch.csv --db other.db --output results.json --report
    python runner.py --repair-watermark --db other.db --feed events
    python runner.py --prune-history 90d --db other.db
    python runner.py --dismiss-dead-letters 4 6 --reason "test records, never to be loaded"
    python runner.py --export-dead-letters fix.jsonl    (edit it, then)
    python runner.py --replay-dead-letters --from fix.jsonl

The rules live in sql/NN_*.sql and a feed's shape in sql/feeds/NAME.sql; this file only parses arguments, hands them to
each command's own module in loader/ (load.py, replay too; repair.py, upgrade.py, prune.py,
reads.py, dead_letters.py) and turns what happened into an exit code (docs/cli.md).
"""

from __future__ import annotations

import os
import signal
import sys


def _stopped_early(signum, frame):
    """Until the runner is ready (modules imported, arguments read) nothing has touched the
    database: a stop ends it at once, saying so (never a traceback)."""
    sys.stderr.write(f"stopped by {'Ctrl-C' if signum == signal.SIGINT else 'SIGTERM'}: nothing was changed\n")
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, _stopped_early)
if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # (not if it is ignored)
    signal.signal(signal.SIGINT, _stopped_early)

import argparse  # noqa: E402
import errno  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

from loader import dead_letters, feed, load, new_feed, prune, reads, repair, safe_write, upgrade  # noqa: E402
from loader.engines import discard_uncommitted, engine_name  # noqa: E402
from loader.errors import LoaderError, Stops  # noqa: E402
from loader.invocation import Invocation  # noqa: E402
from loader.session import Stopped, stop_code, stop_name  # noqa: E402

HERE = Path(__file__).resolve().parent

EXIT_CODES = """exit codes:
  0  the command succeeded (a run may have rejected records: see the summary)
  1  a SQL stage failed: the run was rolled back and logged as failed
  2  refused: bad arguments, unreadable input, SQL files or feed definition, or a
     stage refused the run (e.g. a corrupted watermark); no data was changed
  3  the database cannot be used (not SQLite, damaged, read-only, missing directory, disk full)
  4  another run held the database longer than --lock-timeout
  5  the work is done (committed, or nothing to commit), but stdout or --output could not
     be written (stderr says which)
  6  with --fail-on-late: the run was committed (a dry run: kept nothing), but it skipped
     late records, which a run with a longer --lookback would have loaded
  130 interrupted (Ctrl-C), 143 terminated (SIGTERM): rolled back, logged as failed; a stop
     that lands once the work is committed (even during COMMIT) exits 0 and says so"""

EMPTY_OPTION = {"--db": "a SQLite file (e.g. data/pipeline.db) or a postgresql:// URL",
                "--feed": "a feed's name (e.g. events) or the path to its definition",
                "--output": "the path of a file to write"}
# each command's own module (load, replay, repair, upgrade, prune, trace, runs, dismiss, export
# and a new feed's definition)
COMMANDS = {"load": load.load, "replay_dead_letters": load.replay, "repair_watermark": repair.main,
            "trace": reads.trace, "runs": reads.runs, "upgrade": upgrade.main, "prune_history": prune.main,
            "dismiss_dead_letters": dead_letters.dismiss, "export_dead_letters": dead_letters.export,
            "new_feed": new_feed.main}
# the commands that take none of a load's options
NOT_LOADS = ("prune_history", "dismiss_dead_letters", "export_dead_letters", "new_feed")
MAX_DURATION_DAYS = 10_000  # about 27 years; keeps the seconds within a 32-bit integer


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="runner.py", description="Load CSV or JSON Lines records into a database through the SQL "
        "stages in sql/.", epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="CSV (header row) or JSON Lines files, .gz read transparently; - for stdin")
    parser.add_argument("--feed", metavar="NAME|PATH",
                        help="the feed: its definition sql/feeds/NAME.sql (under --sql-dir), or a path to one "
                             "anywhere (default: events, the sample's)")
    parser.add_argument("--db", help="a SQLite file or a postgresql:// URL (default: $DATABASE_URL, "
                             "else data/pipeline.db)")
    parser.add_argument("--format", choices=("csv", "jsonl"),
                        help="the inputs' format (default: .jsonl/.ndjson are JSON Lines, others CSV)")
    parser.add_argument("--output", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--report", action="store_true",
                        help="print lineage entries by step on stderr and add lineage_by_step to the summary")
    parser.add_argument("--dry-run", action="store_true",
                        help="run every stage, print what would happen, then roll back: nothing is kept")
    parser.add_argument("--lookback", metavar="DURATION", default="0",
                        help="also reconsider records up to this far behind the watermark (90m, 2h, 7d; "
                             "default 0)")
    parser.add_argument("--fail-on-late", action="store_true",
                        help="exit 6 if the run skipped late records (for schedulers); it is still committed")
    parser.add_argument("--now", help="pin the run's clock (UTC, e.g. 2025-01-16T00:00:00); default: now")
    parser.add_argument("--sql-dir", default=str(HERE / "sql"), help="stage files to run (default: sql/)")
    parser.add_argument("--lock-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="how long to wait for another run to finish (default: 30)")
    parser.add_argument("--progress", action="store_true",
                        help="show progress on stderr even when it is not a terminal")
    parser.add_argument("-q", "--quiet", action="store_true", help="no messages on stderr but errors")
    other = parser.add_argument_group("other commands (no INPUT)")
    other.add_argument("--replay-dead-letters", action="store_true",
                       help="send the open dead letters through the current stages as a run of their own")
    other.add_argument("--from", metavar="PATH", dest="replay_from",
                       help="with --replay-dead-letters: only the dead letters of PATH (written by "
                            "--export-dead-letters), each with its raw text as edited there")
    other.add_argument("--dismiss-dead-letters", metavar="ID", nargs="+", type=dead_letter_id,
                       help="close open dead letters of the feed for good (status dismissed): no replay sends "
                            "them, no prune removes them; with --reason")
    other.add_argument("--reason", metavar="TEXT", help="with --dismiss-dead-letters: why they will never be "
                       "fixed (kept in dead_letter.dismiss_reason)")
    other.add_argument("--export-dead-letters", metavar="PATH",
                       help="write the feed's open dead letters to PATH as JSON Lines, to fix their raw there "
                            "and replay them with --replay-dead-letters --from PATH")
    other.add_argument("--repair-watermark", action="store_true",
                       help="restore the watermark from run_log (or lineage) and exit")
    other.add_argument("--trace", metavar="KEY", nargs="+",
                       help="the story of one key of the feed across every run (a key of several columns: "
                            "its values in key order, or its text form '[\"S1\",\"O-1001\"]')")
    other.add_argument("--runs", action="store_true", help="the run history as a table (of every feed, "
                       "unless --feed names one)")
    other.add_argument("--upgrade", action="store_true",
                       help="upgrade the database's schema in place (the next load would) and exit")
    other.add_argument("--prune-history", metavar="AGE",
                       help="remove the lineage of runs that started more than AGE (90d, 12h) before the run's "
                            "clock, and the dead letters they resolved (of every feed, unless --feed names one)")
    other.add_argument("--vacuum", action="store_true",
                       help="with --prune-history: then give the freed space back to the file system "
                            "(rewrites the database: SQLite VACUUM, PostgreSQL VACUUM FULL)")
    other.add_argument("--new-feed", nargs=2, metavar=("NAME", "FILE"),
                       help="write a feed definition, sql/feeds/NAME.sql (under --sql-dir), from a CSV or JSON "
                            "Lines FILE: each column's type read from every record; with --key and --timestamp. "
                            "Opens no database; --dry-run prints it instead")
    other.add_argument("--key", metavar="COL[,COL...]", help="with --new-feed: the column(s) that identify a record")
    other.add_argument("--timestamp", metavar="COL", help="with --new-feed: the column that holds each record's "
                       "version, or the integer columns year,month[,day] (the period's first instant)")
    args = parser.parse_args(argv)

    chosen = [name for name in COMMANDS if name != "load" and getattr(args, name)]
    args.command = chosen[0] if chosen else "load"
    if len(chosen) > 1:
        parser.error("choose one of --replay-dead-letters, --repair-watermark, --trace, --runs, --upgrade, "
                     "--prune-history, --dismiss-dead-letters, --export-dead-letters, --new-feed")
    if chosen and args.inputs:
        parser.error(f"--{chosen[0].replace('_', '-')} takes no input files")
    if args.vacuum and args.command != "prune_history":
        parser.error("--vacuum goes with --prune-history")
    if args.vacuum and args.dry_run:
        parser.error("--vacuum does not go with --dry-run: a dry run changes nothing")
    if args.command in NOT_LOADS:
        load_only = [flag for flag, given in (("--lookback", args.lookback != "0"),
                                              ("--format", args.format and args.command != "new_feed"),
                                              ("--fail-on-late", args.fail_on_late), ("--report", args.report))
                     if given]
        if load_only:
            parser.error(f"{load_only[0]} applies to loads, not to --{args.command.replace('_', '-')}")
    for option, value in (("--key", args.key), ("--timestamp", args.timestamp)):
        if value is not None and args.command != "new_feed":
            parser.error(f"{option} goes with --new-feed NAME FILE")
    if args.command == "new_feed" and (args.key is None or args.timestamp is None):
        parser.error("--new-feed NAME FILE needs --key COL[,COL...] and --timestamp COL: the columns that "
                     "identify a record and hold its version")
    if args.command == "new_feed" and args.output:
        parser.error("--output does not go with --new-feed: it writes the definition (stdout: what it wrote)")
    if args.command == "new_feed" and args.feed:
        parser.error("--feed does not go with --new-feed: NAME is the new feed's")
    if args.replay_from is not None and args.command != "replay_dead_letters":
        parser.error("--from goes with --replay-dead-letters: python runner.py --replay-dead-letters --from PATH")
    if args.replay_from is not None and not args.replay_from.strip():
        parser.error("--from is empty: give it the file --export-dead-letters wrote")
    if args.command == "dismiss_dead_letters" and args.reason is None:
        parser.error("--dismiss-dead-letters needs --reason TEXT: why they will never be fixed (it is kept "
                     "with them, in dead_letter.dismiss_reason)")
    if args.reason is not None and args.command != "dismiss_dead_letters":
        parser.error("--reason goes with --dismiss-dead-letters")
    if args.reason is not None and not args.reason.strip():
        parser.error("--reason is empty: say why these dead letters will never be fixed")
    if args.export_dead_letters is not None and not args.export_dead_letters.strip():
        parser.error("--export-dead-letters is empty: give it the path of a file to write")
    if args.command == "export_dead_letters" and args.output:
        parser.error("--output does not go with --export-dead-letters: it writes its own PATH")
    if not chosen and not args.inputs:
        parser.error("give an input file (e.g. data/sample_input.txt), or one of the other commands")
    if args.dry_run and args.command in ("repair_watermark", "trace", "runs", "upgrade", "dismiss_dead_letters",
                                         "export_dead_letters"):
        parser.error("--dry-run applies to loads, --replay-dead-letters, --prune-history and --new-feed")
    for option, value in (("--db", args.db), ("--feed", args.feed), ("--output", args.output)):
        if value is not None and not value.strip():
            parser.error(f"{option} is empty: give it {EMPTY_OPTION[option]}")
    # the database: --db, else $DATABASE_URL (which a suggested command leaves to the environment)
    args.db_from_env = args.db is None and bool(os.environ.get("DATABASE_URL"))
    if args.db is None:
        args.db = os.environ.get("DATABASE_URL") or str(HERE / "data" / "pipeline.db")
    db_option = "$DATABASE_URL" if args.db_from_env else "--db"
    if args.db == ":memory:":
        parser.error(f"{db_option} :memory: would keep nothing; give a file, or try the batch with --dry-run")
    if args.db[:5].lower() == "file:":
        parser.error(f"{db_option} {args.db}: a file: URI is not taken (it may name a database in memory, which "
                     "would keep nothing); give the database file's path")
    if not 0 <= args.lock_timeout <= 86400:
        parser.error("--lock-timeout is a number of seconds between 0 and 86400")
    for option, path in [*(("INPUT", name) for name in args.inputs if name != "-"), ("--output", args.output),
                         ("--db", args.db if engine_name(args.db) == "sqlite" else None),
                         ("--feed", args.feed if args.feed and feed.is_path(args.feed) else None),
                         ("--sql-dir", args.sql_dir), ("--from", args.replay_from),
                         ("--export-dead-letters", args.export_dead_letters)]:
        if path and _symlink_loop(path):
            parser.error(f"{option} {path} is a symbolic link that leads back to itself")
    for option, path in (("--output", args.output), ("--export-dead-letters", args.export_dead_letters)):
        if path and not Path(path).resolve().parent.is_dir():
            parser.error(f"{option} {path}: the directory does not exist")
        if path and (why := output_refusal(args, path)):
            parser.error(f"{option} {path} {why}; give {option} a file of its own")
    try:
        args.lookback_seconds = duration_seconds(args.lookback, "--lookback")
        if args.prune_history is not None:
            args.prune_seconds = duration_seconds(args.prune_history, "--prune-history")
    except ValueError as exc:
        parser.error(str(exc))
    return args


def output_refusal(args, output: str) -> str | None:
    """Why output (--output, or --export-dead-letters' PATH) must not be written (safe_write.refusal),
    or None: the database or its -wal/-shm/-journal, an input or the --from file, the feed's
    definition (or its engine twins), any file under --sql-dir, a directory, or what is not a
    regular file. Checked before the database is opened."""
    protected = {}
    if engine_name(args.db) == "sqlite":
        protected[args.db] = "the database (--db)"
        protected.update({args.db + suffix: f"the database's {suffix} file" for suffix in ("-wal", "-shm", "-journal")})
    protected.update({name: "an input" for name in args.inputs if name != "-"})
    if args.replay_from:
        protected[args.replay_from] = "the --from file (its edits)"
    try:
        definition = feed.find(args.feed, Path(args.sql_dir))
    except (LoaderError, OSError):
        definition = None  # (the command itself says what is wrong with --feed)
    if definition is not None:
        for twin in ("", ".sqlite", ".postgresql"):
            protected[str(definition.with_name(definition.stem + twin + ".sql"))] = "the feed's definition"
    return safe_write.refusal(output, protected, {args.sql_dir: "a file under --sql-dir (the SQL files)"})


def _symlink_loop(path: str) -> bool:
    try:
        Path(path).resolve()
    except RuntimeError:  # (Python before 3.13 says a loop so; later ones resolve what they can)
        return True
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def dead_letter_id(text: str) -> int:
    """An id of --dismiss-dead-letters: a whole number from 1, as dead_letter_id has them."""
    if not re.fullmatch(r"\s*[0-9]{1,18}\s*", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a dead letter's id (a whole number, e.g. 4: its "
                                         "dead_letter_id in open_dead_letters)")
    return int(text)


def duration_seconds(text: str, option: str) -> int:
    """'90m' -> 5400; units s, m, h, d; a bare number is seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not match:
        raise ValueError(f"{option} {text!r} is not a duration like 90m, 2h or 7d")
    seconds = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if seconds > MAX_DURATION_DAYS * 86400:
        raise ValueError(f"{option} {text!r} is more than {MAX_DURATION_DAYS} days")
    return seconds


def main(argv=None) -> int:
    try:
        return run_command(argv)
    finally:
        discard_uncommitted()  # a database file this process created but never committed to


def run_command(argv=None) -> int:
    args = parse_args(argv)
    # SIGTERM becomes an orderly stop, like Ctrl-C: each command then reads back what the
    # database kept (a stop during COMMIT may have kept everything) and says so.
    signal.signal(signal.SIGTERM, lambda *_: Stops.raise_(SystemExit(143)))
    if signal.getsignal(signal.SIGINT) is _stopped_early:
        signal.signal(signal.SIGINT, lambda *_: Stops.raise_(KeyboardInterrupt()))
    invocation = Invocation.from_args(args)
    try:
        COMMANDS[args.command](args, invocation)
        code = 0
    except Stopped as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    except LoaderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except (KeyboardInterrupt, SystemExit) as stop:
        if stop is not Stops.requested:
            raise  # (an exit of the interpreter's own, not a signal)
        # no command settled it: it came before any commit, or after what a command kept
        kept = f"after {Stops.kept} was committed" if Stops.kept else ": nothing was changed"
        print(f"stopped by {stop_name(stop)}{kept}".replace(" :", ":"), file=sys.stderr)
        return 0 if Stops.kept else stop_code(stop)
    except Exception as exc:  # a bug, not a user error: say so briefly; LOADER_DEBUG=1 shows where
        if os.environ.get("LOADER_DEBUG"):
            raise
        state = f"{Stops.kept} was committed" if Stops.kept else "nothing was committed"
        print(f"internal error: {type(exc).__name__}: {exc} ({state}; rerun with LOADER_DEBUG=1 "
              "for details)", file=sys.stderr)
        return 1
    if Stops.requested is not None and Stops.kept:  # a stop that landed once the work was kept
        print(f"stopped by {stop_name(Stops.requested)} after {Stops.kept} was committed", file=sys.stderr)
    return code


if __name__ == "__main__":
    code = main()
    # what happened is told: a stop now would only turn it into a kill by the signal, as the
    # interpreter puts back the default handlers while it shuts down
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)
