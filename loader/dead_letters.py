"""Dead letters closed by hand, or fixed in a file:

    --dismiss-dead-letters ID [ID ...] --reason TEXT   never to be fixed: status 'dismissed', when and
                                                        why, in one transaction under the run lock
    --export-dead-letters PATH                          the feed's open ones as JSON Lines, to fix
                                                        there (reads only: no lock, no upgrade)
    --replay-dead-letters --from PATH                   the ones PATH names, with its text: checked
                                                        here (Edits), replayed by load.py

Each refuses the whole command (exit 2, nothing changed) if one dead letter it names is not an
open dead letter of the feed, saying what it is instead (run/chosen_dead_letters.sql).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import report, safe_write
from .errors import LoaderError, OutputFailed, Refused, StageFailed, Stops
from .inputs import DEAD_LETTER_FIELDS, Edit, read_edits, refusal_text
from .invocation import Invocation
from .session import Session, Stopped
from .start import open_for, plan_and_clock, progress_for

CHOSEN_COLUMNS = ["dead_letter_id", "place", "source", "line_no", "raw"]
IDS_SHOWN = 10  # of the dismissed, on stderr (stdout lists every one)


# -- --dismiss-dead-letters -------------------------------------------------------

def dismiss(args, invocation: Invocation) -> None:
    plan, now = plan_and_clock(invocation)
    # must exist: a mistyped --db is not created (nothing to dismiss there)
    session = Session(open_for(invocation, args.lock_timeout, must_exist=True), plan, now, invocation,
                      progress_for(args))
    ids = list(dict.fromkeys(args.dismiss_dead_letters))  # (an id given twice is dismissed once)
    dismissed = dismiss_dead_letters(session, ids, args.reason)
    result = {"feed": plan.feed.name, "dismissed": len(dismissed), "dismissed_at": now,
              "dismiss_reason": args.reason, "dead_letters": dismissed}
    shown = ", ".join(str(d["dead_letter_id"]) for d in dismissed[:IDS_SHOWN]) + \
        (f" and {len(dismissed) - IDS_SHOWN} more" if len(dismissed) > IDS_SHOWN else "")
    see = invocation.shell(f"select * from closed_dead_letters where feed = '{plan.feed.name}' "
                           f"and status = 'dismissed'")
    invocation.say(f"dismissed {_count(len(dismissed))} of the feed {plan.feed.name} ({shown}): no replay "
                   f"sends {'them' if len(dismissed) > 1 else 'it'} again (see them: {see})")
    report.emit(json.dumps(result, indent=2, default=report.json_value), done="the dismissal was committed")
    if args.output:
        report.write_json(args.output, result)


def dismiss_dead_letters(session: Session, ids: list[int], reason: str) -> list[dict]:
    """The dismissal, in one transaction: refused whole if one id is not an open dead letter of
    the feed. Returns the dismissed (id, source, line_no, reason)."""
    session.require_history()
    session.params["reason"] = reason
    chosen = [(dead_letter_id, place, None, None, None) for place, dead_letter_id in enumerate(ids, start=1)]
    dismissed: list[dict] = []
    try:
        with session.transaction():
            session.prepare_schema(with_target=False)
            problems = choose(session, chosen)
            if problems:
                raise Refused(_dismissal_refused(session, problems))
            session.execute_all(session.plan.hooks["dismiss_dead_letters"])
            dismissed = session.query("dismissed_dead_letters")
    except (KeyboardInterrupt, SystemExit) as stop:
        # a stop during COMMIT: the dead letters the database holds dismissed now, with this
        # reason on this clock, say whether it was kept (read under the run lock)
        session.after_stop(stop)
        if not (dismissed and session.commit_started and _still_dismissed(session, chosen) == len(dismissed)):
            raise Stopped(stop, "no dead letter was dismissed (rolled back)") from None
        Stops.settled(stop, "the dismissal")
        return dismissed
    Stops.committed("the dismissal")
    return dismissed


def _still_dismissed(session: Session, chosen: list[tuple]) -> int:
    with session.transaction():
        session.execute_all(session.plan.hooks["choose_dead_letters"])
        _land(session, chosen)
        return len(session.query("dismissed_dead_letters"))


def _dismissal_refused(session: Session, problems: list[dict]) -> str:
    feed = session.plan.feed.name
    what = "; ".join(what_it_is(row, feed) for row in problems[:IDS_SHOWN])
    if len(problems) > IDS_SHOWN:
        what += f"; and {len(problems) - IDS_SHOWN} more"
    listing = session.invocation.shell(f"select dead_letter_id, source, line_no, reason from open_dead_letters "
                                       f"where feed = '{feed}'")
    return (f"nothing was dismissed: {what}. --dismiss-dead-letters takes open dead letters of the feed "
            f"{feed}; to list them: {listing}")


# -- --export-dead-letters --------------------------------------------------------

def export(args, invocation: Invocation) -> None:
    plan, now = plan_and_clock(invocation)
    session = Session(open_for(invocation, args.lock_timeout, must_exist=True, read_only=True), plan, now,
                      invocation, progress_for(args))
    session.check_readable("--export-dead-letters")
    session.require_history()
    rows = session.read_only_query("export_dead_letters")
    text = "".join(json.dumps({k: row[k] for k in DEAD_LETTER_FIELDS}, ensure_ascii=False,
                              default=report.json_value) + "\n" for row in rows)
    path = str(Path(args.export_dead_letters).resolve())
    try:  # whole or not at all, by safe_write's rules (as --output)
        safe_write.write_text(args.export_dead_letters, text)
    except OSError as exc:
        raise OutputFailed(f"--export-dead-letters {args.export_dead_letters} could not be written: "
                           f"{exc.strerror}; nothing was changed") from None
    Stops.committed("the export")
    replay = invocation.command(["--replay-dead-letters", "--from", path], now=True) if rows else None
    if rows:
        invocation.say(f"wrote {_count(len(rows), 'open dead letter')} of the feed {plan.feed.name} to {path}, "
                       f"a JSON object a line: fix the raw of those you can there (leave dead_letter_id, source and "
                       f"line_no as they are; delete the line of one to leave it as it is), then replay the file: "
                       f"{replay}")
    else:
        invocation.say(f"no open dead letters for the feed {plan.feed.name}: wrote an empty {path}")
    report.emit(json.dumps({"feed": plan.feed.name, "path": path, "dead_letters": len(rows), "replay": replay},
                           indent=2), done=f"{path} was written")


# -- --replay-dead-letters --from ---------------------------------------------------

@dataclass(frozen=True)
class Edits:
    """The dead letters a --from file names, with their edited text (inputs.read_edits):
    checked before the replay's run opens, applied inside its transaction."""
    path: str
    edits: list[Edit]

    @classmethod
    def read(cls, path: str) -> "Edits":
        return cls(path, read_edits(path))

    def _chosen(self) -> list[tuple]:
        return [(e.dead_letter_id, e.place, e.source, e.line_no, e.raw) for e in self.edits]

    def check(self, session: Session) -> None:
        """Before anything is changed: each line names an open dead letter of the feed, at its
        source and line. Under the run lock, and rolled back (it changes nothing)."""
        session.require_history()
        with session.transaction(keep=False):
            problems = choose(session, self._chosen())
        if problems:
            raise Refused(self._refused(session, problems))

    def apply(self, session: Session) -> None:
        """Inside the replay's transaction: chosen_dead_letter holds the file's dead letters (the
        replay sends them, and only them), and each one's raw is the edited text. Checked again
        (another command may have closed one since): a refusal now fails the run, rolled back."""
        problems = choose(session, self._chosen())
        if problems:
            raise Refused(self._refused(session, problems, since=True))
        session.execute_all(session.plan.hooks["edit_dead_letters"])

    def _refused(self, session: Session, problems: list[dict], since: bool = False) -> str:
        feed = session.plan.feed.name
        text = refusal_text(f"--from {self.path}", [(row["place"], what_it_is(row, feed)) for row in problems])
        if since:
            text += "\n(they changed since the replay checked them, before its run opened)"
        listing = session.invocation.shell(f"select dead_letter_id, source, line_no, reason from open_dead_letters "
                                           f"where feed = '{feed}'")
        return (text + f"\nEach line names an open dead letter of the feed {feed}, with the source and line_no it "
                f"was exported with: put those back, or remove the lines of dead letters no longer open (the open "
                f"ones: {listing})")


# -- what they share --------------------------------------------------------------

def choose(session: Session, chosen: list[tuple]) -> list[dict]:
    """The dead letters a command names into chosen_dead_letter (rows of CHOSEN_COLUMNS);
    returns those that are not an open dead letter of the feed as named (none: all are)."""
    session.execute_all(session.plan.hooks["choose_dead_letters"])
    _land(session, chosen)
    return session.query("chosen_dead_letters")


def _land(session: Session, chosen: list[tuple]) -> None:
    try:
        session.db.land("chosen_dead_letter", CHOSEN_COLUMNS, chosen)
    except session.db.Error as exc:
        problem = session.db.classify(exc, "naming the dead letters")
        if isinstance(problem, (LoaderError, KeyboardInterrupt, SystemExit)):
            raise problem from None
        raise StageFailed(f"naming the dead letters: {str(exc).strip()}") from None


def what_it_is(row: dict, feed: str) -> str:
    """What a named dead letter is, when it is not an open dead letter of the feed
    (a row of run/chosen_dead_letters.sql)."""
    name = f"dead letter {row['dead_letter_id']}"
    if row["status"] is None:
        if row["pruned_resolved_by_run"] is not None:
            return (f"{name} was resolved by run {row['pruned_resolved_by_run']} and then removed by "
                    "--prune-history")
        return f"there is no {name}"
    if row["status"] == "resolved":
        state = f"{name} is resolved (by run {row['resolved_by_run']}: its record passed)"
    elif row["status"] == "dismissed":
        state = f"{name} is dismissed already (on {row['dismissed_at']}: {row['dismiss_reason']})"
    else:
        state = f"{name} is open"
    if row["feed"] != feed:
        return f"{state}, of the feed {row['feed']}, not {feed} (--feed {row['feed']} names it)"
    if row["status"] != "open":
        return state
    for key, given in (("source", "given_source"), ("line_no", "given_line_no")):
        if row[key] != row[given]:
            return (f"{name}'s {key} is {json.dumps(row[key], default=report.json_value)}, not "
                    f"{json.dumps(row[given], default=report.json_value)}: leave source and line_no as exported "
                    "(they say where its record came from)")
    return state


def _count(n: int, thing: str = "dead letter") -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"
