"""The ways a run can end badly, each with its exit code (documented in docs/cli.md)."""


class LoaderError(Exception):
    """A problem the user can act on: printed as a message, never a traceback."""

    exit_code = 1


class StageFailed(LoaderError):
    """A SQL statement failed: the run was rolled back and logged as failed."""

    exit_code = 1


class Refused(LoaderError):
    """Bad arguments, input or SQL files, or a stage refused the run: nothing was changed."""

    exit_code = 2


class DatabaseUnusable(LoaderError):
    """The database cannot be opened or written (not SQLite, read-only, disk full, ...)."""

    exit_code = 3


class Busy(LoaderError):
    """Another run held the database for longer than --lock-timeout."""

    exit_code = 4


class OutputFailed(LoaderError):
    """The run was committed, but the --output file could not be written."""

    exit_code = 5


class LateRecords(LoaderError):
    """--fail-on-late: the run skipped records a longer --lookback would have loaded."""

    exit_code = 6


class Stops:
    """Ctrl-C and SIGTERM, as the exception each raises (KeyboardInterrupt, SystemExit(143)).
    One that arrives while SQLite runs a Python function of ours (key_text) is raised inside
    that function, and SQLite reports it as the function's error: the engine asks here
    whether a stop was what really happened.

    Only the first stop is raised: later ones would interrupt the runner while it reads back
    and records what the first one left. And once a command's work is committed (kept), a
    stop is only noted: the command finishes its report, and the runner says when it was
    stopped (after what was committed), exiting 0."""

    requested: BaseException | None = None
    kept: str | None = None  # what was committed, e.g. "run 7"

    @classmethod
    def raise_(cls, stop: BaseException):
        first = cls.requested is None
        if first:
            cls.requested = stop
        if first and cls.kept is None:
            raise stop

    @classmethod
    def committed(cls, what: str) -> None:
        """From here on a stop is noted, not raised: what was committed stays reported."""
        cls.kept = what

    @classmethod
    def settled(cls, stop: BaseException, what: str) -> None:
        """A stop landed during or after COMMIT, and the database says it was kept."""
        cls.requested, cls.kept = stop, what
