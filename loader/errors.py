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
    whether a stop was what really happened."""

    requested: BaseException | None = None

    @classmethod
    def raise_(cls, stop: BaseException):
        cls.requested = stop
        raise stop
