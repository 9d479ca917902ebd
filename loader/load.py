"""Loads and replays: a run on record, its records through the stages in one transaction.

    opening transaction   upgrades + schema stage + run/open.sql             -> committed
    load transaction      land input, stages 02..NN with the feed's sections -> committed, or
    on failure or a stop  ROLLBACK, then run/failed.sql, which marks the run failed only
                          while it is still 'running': if it is 'succeeded', the load was
                          committed before the stop landed, and the run is reported as such

A dry run does both in one transaction, reads the summary, and rolls back.
"""

from __future__ import annotations

import gc
import json
import math
from datetime import datetime
from pathlib import Path

from . import landing, report
from .dead_letters import Edits
from .errors import LateRecords, LoaderError, Refused, StageFailed, Stops
from .inputs import Inputs
from .invocation import Invocation
from .openlineage import Reporter
from .plan import Step
from .session import Session, Stopped, is_stop
from .start import open_for, plan_and_clock, progress_for

REPLAY_CHUNK = 10_000  # open dead letters read, parsed and landed at a time


class Load:
    def __init__(self, session: Session, lookback_seconds: int = 0, reporter: Reporter | None = None):
        """reporter: an openlineage.Reporter, told of each point of the run's life, or None."""
        self.session = session
        self.db, self.plan, self.params = session.db, session.plan, session.params
        self.params["lookback_seconds"] = lookback_seconds
        self.unused_columns: list[str] = []  # input columns the feed does not read
        self.input_files: list[str] = []  # the files a load reads, in order
        self.killed: list[dict] = []  # runs the opening found killed, to report aborted
        self.reporter = reporter

    # what openlineage.Reporter reads of a run
    def query(self, hook: str, **params) -> list[dict]:
        return self.session.query(hook, **params)

    # -- the commands ---------------------------------------------------------

    def load(self, inputs: Inputs, dry_run: bool = False) -> dict:
        """Run every stage on the inputs; returns the summary. A failure is recorded, then raised."""
        self.params.update(source=inputs.source, format=inputs.format, header=",".join(inputs.header))
        self.input_files = [source for source, _ in inputs.files]
        if dry_run:
            return self._dry_run(lambda: inputs)
        self._open()
        return self._load(lambda: inputs)

    def replay_dead_letters(self, dry_run: bool = False, edits: Edits | None = None) -> dict | None:
        """The open dead letters through the current stages, as a run of its own (None: none open).
        edits (--from PATH): only the dead letters PATH names, each with its edited text; checked
        before the run opens (refused: nothing changed), applied inside the replay's transaction."""
        self.params.update(kind="replay", source="dead_letter", format="replay", lookback_seconds=None)

        def open_dead_letters() -> Inputs:
            # (in the replay's transaction) which dead letters: those PATH names, else every open one
            self.session.execute_all(self.plan.hooks["choose_dead_letters"])
            if edits is not None:
                edits.apply(self.session)
            headers = [row[0] for row in self.session.execute_all(self.plan.hooks["replay_headers"])]
            (source,) = self.plan.hooks["replay_source"]
            return Inputs.from_dead_letters(headers, self.db.stream(source, self.params, REPLAY_CHUNK))

        version = self.session.schema_version()
        if version is not None and version < self.plan.schema_version:
            if dry_run:  # it would have to keep the upgrade to read the dead letters
                self.session.check_readable("--replay-dead-letters --dry-run")
            from .upgrade import upgrade_schema
            upgrade_schema(self.session)
        if edits is not None:
            if not edits.edits:
                return None
            edits.check(self.session)
        elif not self.session.read_only_query("has_open_dead_letters"):
            return None
        if dry_run:
            return self._dry_run(open_dead_letters)
        self._open()
        return self._load(open_dead_letters)

    # -- the transactions -----------------------------------------------------

    def _open(self) -> None:
        if self.reporter:
            self.params["openlineage_run_id"] = self.reporter.new_run_id()
        try:
            with self.session.transaction():
                self.session.prepare_schema()
                self.params["run_id"] = self.session.execute_all(self.plan.hooks["open"])[0][0]
                self.killed = self.session.query("interrupted_runs") if self.reporter else []
        except BaseException as exc:
            # a stop during its COMMIT may have opened the run: the database says
            if self.params["run_id"] is not None and self.session.commit_started:
                self._settle(exc)
            raise

    def _load(self, read_inputs) -> dict:
        try:
            if self.reporter:  # (in here: a stop while an event is sent is recorded like any other)
                for run in self.killed:
                    self.reporter.interrupted(self, run)
                self.reporter.started(self)
            self.session.begin()
            self._run_stages(read_inputs())
            with self.session.timed("commit"):
                self.session.commit()
            Stops.committed(f"run {self.params['run_id']}")
            summary = self._summary()
        except BaseException as exc:
            summary = self._settle(exc)  # the summary, if the database says the run was kept
        if self.reporter:  # (a stop while it is sent is noted, not raised: the run is committed)
            self.reporter.completed(self, summary)
        return summary

    def _settle(self, exc: BaseException) -> dict:
        """After an error or a stop: roll back, then mark the run failed if it is still running.
        If it is not, its COMMIT went through before the stop landed: return its summary.
        Otherwise raise what to tell the user."""
        self.session.after_stop(exc)
        error = failure_text(exc)
        status, unrecorded = self._mark_failed(error)
        if status == "succeeded":
            Stops.settled(exc, f"run {self.params['run_id']}")
            return self._summary()
        if self.reporter and status is not None:
            self.reporter.failed(self, exc, error)
        run = f"run {self.params['run_id']}"
        if unrecorded:
            note = f"{run} could not be marked failed ({unrecorded}); the next run will mark it interrupted"
            if is_stop(exc):
                raise Stopped(exc, f"{run} was rolled back; {note}") from None
            if isinstance(exc, LoaderError):
                exc.args = (f"{exc}\n{note}",)
            raise exc
        if is_stop(exc):
            raise Stopped(exc, f"{run} was rolled back and logged as {status}" if status
                          else "nothing was changed (the run had not opened)") from None
        raise exc

    def _mark_failed(self, error: str) -> tuple[str | None, str | None]:
        """run/failed.sql, in a transaction of its own under the run lock: the run's status
        afterwards ('failed', or 'succeeded' if its load was committed; None if it never
        opened), and why it could not be recorded, if it could not."""
        try:
            with self.session.transaction():
                rows = self.session.execute_all(self.plan.hooks["failed"], {"error": error})
        except (self.db.Error, LoaderError) as problem:
            return None, "disk full" if "full" in str(problem) else str(problem).split(";")[0]
        return (rows[0][0] if rows else None), None

    def _dry_run(self, read_inputs) -> dict:
        """Everything in one transaction, then rolled back: nothing is kept, not even the run."""
        self.session.dry_run = True
        try:
            with self.session.transaction(keep=False):
                self.session.prepare_schema()
                self.params["run_id"] = self.session.execute_all(self.plan.hooks["open"])[0][0]
                self._run_stages(read_inputs())
                by_step = {row["step"]: row["entries"] for row in self.session.query("lineage_by_step")}
                return {**self._summary(), "dry_run": True, "lineage_by_step": by_step}
        except (KeyboardInterrupt, SystemExit) as exc:
            self.session.after_stop(exc)
            raise Stopped(exc, "a dry run: nothing was kept") from None

    def _run_stages(self, inputs: Inputs) -> None:
        rows = self.session.execute_all(self.plan.hooks["read_watermark"])
        self.params["watermark"] = rows[0][0] if rows else None
        with self.session.timed("landing"):
            self._land(inputs)
            self.session.execute_all(self.plan.hooks["record_deliveries"])
        for step in self.plan.stages:
            self.session.progress.stage(step.name)
            with self.session.timed(step.name):
                self.session.execute_all(step.statements)
                self._check_refusals(step)
        self.session.progress.done()

    def _summary(self) -> dict:
        summary = self.session.query("summary")[0]
        if self.plan.feed.history != "on":
            for count in ("history_opened", "history_split", "history_closed"):
                del summary[count]
        summary["same_content"] = self.session.query("same_content")
        summary["unused_columns"] = self.unused_columns
        summary["timings"] = self.session.timings
        return summary

    def _land(self, inputs: Inputs) -> None:
        next_record = 1
        # Reading allocates a few objects per record, none in a cycle: reference
        # counting frees them, and the cycle collector would only keep rescanning
        # them (a third of the reading time for a million records).
        collecting = gc.isenabled()
        gc.disable()
        try:
            landing.create_landing(self.db, inputs.header, self.plan.feed.input_columns)
            self.unused_columns = [name for name in inputs.header if name not in self.plan.feed.input_columns]
            for position, (source, records) in enumerate(inputs.files, start=1):
                records = self.session.progress.records(records, source or "dead letters")
                next_record = landing.land(self.db, inputs.header, records, source, next_record)
                if source in inputs.digests:  # (read to its end: its content is known)
                    landing.land_file(self.db, source, position, inputs.digests[source].hexdigest())
        except self.db.Error as exc:
            problem = self.db.classify(exc, f"landing {inputs.source}")
            if isinstance(problem, (LoaderError, KeyboardInterrupt, SystemExit)):
                raise problem from None
            raise StageFailed(f"landing {inputs.source}: {str(exc).strip()}") from None
        except (OSError, EOFError) as exc:  # e.g. a gzip file that is cut short
            raise Refused(f"cannot read input {inputs.source}: {exc}") from None
        finally:
            if collecting:
                gc.enable()

    def _check_refusals(self, step: Step) -> None:
        rows = self.session.execute_all(self.plan.hooks["refusals"])
        if rows:
            reasons = "; ".join(r[0] for r in rows)
            raise Refused(f"{step.name} refused the run: {reasons}")


def failure_text(exc: BaseException) -> str:
    """What run_log.error says of a run that failed or was stopped."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted by the user (Ctrl-C); nothing was kept"
    if isinstance(exc, SystemExit):
        return "stopped by a signal; nothing was kept"
    return str(exc)


# -- the commands, from arguments to output --------------------------------------

def load(args, invocation: Invocation) -> None:
    plan, now = plan_and_clock(invocation)
    _warn_if_ahead(args, invocation, now)
    inputs = Inputs.open(args.inputs, args.format)
    db = open_for(invocation, args.lock_timeout)
    run = _run(args, invocation, db, plan, now, args.lookback_seconds)
    summary = run.load(inputs, dry_run=args.dry_run)
    _report(args, invocation, run, summary, inputs)
    db.close(discard_if_created=args.dry_run)
    if args.fail_on_late and summary["late_skipped"]:
        kept = "nothing was kept (a dry run)" if args.dry_run else f"run {summary['run_id']} was committed"
        raise LateRecords(f"{summary['late_skipped']} late record{'s' if summary['late_skipped'] > 1 else ''} "
                          f"skipped (--fail-on-late); {kept}")


def replay(args, invocation: Invocation) -> None:
    # --from PATH: read whole, and refused if a line is not one the export writes, before the
    # database is opened
    edits = Edits.read(args.replay_from) if args.replay_from else None
    plan, now = plan_and_clock(invocation)
    _warn_if_ahead(args, invocation, now)
    run = _run(args, invocation, open_for(invocation, args.lock_timeout, must_exist=True), plan, now)
    summary = run.replay_dead_letters(dry_run=args.dry_run, edits=edits)
    if summary is None:
        invocation.say(f"--from {args.replay_from} names no dead letters: nothing to replay" if edits is not None else
                       f"no open dead letters for the feed {plan.feed.name}: nothing to replay")
        report.emit(json.dumps({"replayed": 0}, indent=2), done="nothing to replay")
        return
    if edits is not None:
        summary["replayed_from"] = str(Path(edits.path).resolve())
    _report(args, invocation, run, summary)


def _warn_if_ahead(args, invocation: Invocation, now: str) -> None:
    """A --now ahead of the system clock can move the watermark past it (docs/operating.md)."""
    if invocation.now and not args.dry_run and (line := report.clock_ahead_line(now)):
        invocation.say(line)


def _run(args, invocation: Invocation, db, plan, now: str, lookback_seconds: int = 0) -> Load:
    """A load or replay that keeps what it does is reported to OpenLineage if the environment
    asks for it."""
    reporter = None if args.dry_run else Reporter.from_environment(invocation.say)
    session = Session(db, plan, now, invocation, progress_for(args))
    return Load(session, lookback_seconds, reporter)


def _report(args, invocation: Invocation, run: Load, summary: dict, inputs: Inputs | None = None) -> None:
    committed = None if args.dry_run else summary["run_id"]
    by_step = summary.pop("lineage_by_step", None) if args.dry_run else \
        {row["step"]: row["entries"] for row in run.query("lineage_by_step")} if args.report or args.output \
        else None
    if args.report and by_step is not None:
        summary["lineage_by_step"] = by_step
        invocation.say(report.lineage_table(summary["run_id"], by_step))
    # (rejects that repeat dead letters fixed and resolved since leave none open to show)
    see_rejects = None if args.dry_run or not run.session.read_only_query("has_open_dead_letters") else \
        invocation.shell(f"select * from open_dead_letters where feed = '{summary['feed']}'")
    line = report.summary_line(summary, see_rejects, deletes=run.plan.feed.deletes != "none",
                               history=run.plan.feed.history == "on")
    invocation.say(("dry run, nothing kept: " if args.dry_run else "") + line)
    if summary["late_skipped"] and inputs is not None:
        invocation.say(report.late_line(summary, run.plan.feed, _again_with_lookback(invocation, summary)))
    if summary["differing"]:
        invocation.say(report.differing_line(summary, run.plan.feed))
    for same in summary["same_content"]:
        invocation.say(report.same_content_line(same))
    if summary["unused_columns"]:
        invocation.say(report.unused_columns_line(summary, run.plan.feed))
    if not run.plan.feed.compares_values:
        invocation.say(report.versions_not_compared_line(run.plan.feed))
    if run.plan.feed.versions_in_records:
        invocation.say(report.versions_in_records_line(run.plan.feed))
    report.emit(json.dumps(summary, indent=2, default=report.json_value),
                done=f"run {committed} succeeded and was committed" if committed else "nothing was kept (a dry run)")
    if args.output:
        runs = run.session.read_only_query("history")
        report.write_json(args.output, {"summary": summary, "lineage_by_step": by_step, "runs": runs},
                          committed_run=committed)


def _again_with_lookback(invocation: Invocation, summary: dict) -> str:
    """This load again, complete, with the lookback that reaches its oldest late record."""
    behind = datetime.fromisoformat(summary["watermark_before"]) - datetime.fromisoformat(summary["oldest_late"])
    days = max(1, math.ceil(behind.total_seconds() / 86400))
    files = [name if name == "-" else str(Path(name).resolve()) for name in invocation.inputs]
    options = ["--format", invocation.input_format] if invocation.input_format else []
    return invocation.command(files + options + ["--lookback", f"{days}d"], now=True)
