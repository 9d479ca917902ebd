"""Every load and replay reported to OpenLineage (openlineage.io), when the environment asks for it.

Configuration is the OpenLineage client's own (OPENLINEAGE_URL, OPENLINEAGE_CONFIG, OPENLINEAGE__…
variables, an openlineage.yml); with none of it the client is not even imported. One OpenLineage
job per feed; one OpenLineage run per run on record in run_log (START once it is, then COMPLETE,
FAIL or ABORT). Emitting never costs a load: each event gets EMIT_SECONDS, whatever the client's
own timeouts and retries, and a failure is one warning line.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_NAMESPACE = "sql-incremental-loader"
EMIT_SECONDS = 3.0  # the longest a load waits for one event to be sent ...
RUN_SECONDS = 5.0  # ... and for all its events together
# Where the project lives: the producer of every event, and where the custom facet's schema is.
HOME = "https://github.com/sql-incremental-loader/sql-incremental-loader"
SUMMARY_FACET = "sqlIncrementalLoader_runSummary"
SUMMARY_SCHEMA = f"{HOME}/blob/main/docs/openlineage/1-2-0/RunSummaryRunFacet.json#/$defs/RunSummaryRunFacet"
REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements-openlineage.txt"
# the generic rules a record can fail (sql/run/openlineage_rejects.sql), as data-quality assertions
GENERIC_RULES = {
    "readable": "the record can be read: the header's number of fields, UTF-8, no NUL byte (JSON Lines: an object)",
    "key present": "the feed's key columns have values",
    "timestamp present": "the feed's timestamp column has a value",
    "timestamp valid": "the timestamp is a real time in the feed's timestamp_format",
    "timestamp not in the future": "the timestamp is not later than the run's clock allows",
}


def configured_by() -> str | None:
    """What in the environment asks for OpenLineage events (for messages), or None: nothing
    does, or OPENLINEAGE_DISABLED=true. The places the client itself looks."""
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return None
    for name in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG"):
        if os.environ.get(name):
            return name
    transport = sorted((k != "OPENLINEAGE__TRANSPORT__TYPE", k) for k in os.environ
                       if k == "OPENLINEAGE__TRANSPORT" or k.startswith("OPENLINEAGE__TRANSPORT__"))
    if transport:
        return transport[0][1]
    try:
        places = (Path.cwd() / "openlineage.yml", Path.home() / ".openlineage" / "openlineage.yml")
    except (OSError, RuntimeError):  # no working directory, or no home to look in
        return None
    for path in places:
        try:
            if path.is_file():
                return str(path)
        except OSError:  # e.g. a home directory that may not be entered: not configured there
            continue
    return None


def _is_file(name: str) -> bool:
    try:
        return Path(name).is_file()
    except OSError:  # a directory on its path may not be entered
        return False


class Reporter:
    """Builds and sends one run's events; Run calls it at each point of the run's life."""

    def __init__(self, client, namespace: str, warn):
        self.client = client
        self.namespace = namespace
        self.warn = warn
        self.given_up = False  # after one event could not be sent, the rest of the run's are not tried
        self.names: tuple[str, str | None] | None = None  # the database's namespace and table prefix
        self.waited = 0.0  # seconds spent waiting for events, against RUN_SECONDS

    @classmethod
    def from_environment(cls, warn) -> "Reporter | None":
        where = configured_by()
        if where is None:
            return None
        if where == "OPENLINEAGE_CONFIG" and not _is_file(os.environ["OPENLINEAGE_CONFIG"]):
            warn(f"warning: OPENLINEAGE_CONFIG names {os.environ['OPENLINEAGE_CONFIG']}, which is not a "
                 "readable file; loading without OpenLineage")
            return None
        try:
            from openlineage.client import OpenLineageClient
        except ImportError:
            warn(f"warning: OpenLineage is configured ({where}) but its client is not installed: "
                 f"{shlex.join([sys.executable, '-m', 'pip', 'install', '-r', str(REQUIREMENTS)])}; "
                 "loading without it")
            return None
        # the client logs its own failures; the one line that matters is ours
        logging.getLogger("openlineage").addHandler(logging.NullHandler())
        logging.getLogger("openlineage").propagate = False
        from openlineage.client.event_v2 import set_producer
        set_producer(HOME)  # this loader produces the events and their facets
        try:
            client = OpenLineageClient()
            asked_for = (client.config.transport or {}).get("type")
        except Exception as exc:  # e.g. an openlineage.yml it cannot parse
            warn(f"warning: OpenLineage is configured ({where}) but its client could not start: {exc}; "
                 "loading without it")
            return None
        if getattr(client.transport, "kind", None) == "console":
            if asked_for != "console":  # the client's fallback when it finds no transport: not asked for
                warn(f"warning: OpenLineage is configured ({where}) but names no transport (e.g. "
                     "OPENLINEAGE__TRANSPORT__TYPE); loading without it")
                return None
            # asked for: the console transport logs each event; on stderr, as stdout carries the summary
            console = logging.getLogger("openlineage.client.transport.console")
            console.addHandler(logging.StreamHandler(sys.stderr))
            console.setLevel(logging.INFO)
        return cls(client, os.environ.get("OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE, warn)

    @staticmethod
    def new_run_id() -> str:
        from openlineage.client.uuid import generate_new_uuid
        return str(generate_new_uuid())

    # -- the points of a run's life ------------------------------------------

    def started(self, run) -> None:
        self._send(run, "START", lambda: (self._inputs(run), self._outputs(run), {}))

    def completed(self, run, summary: dict) -> None:
        def build():
            from openlineage.client.facet_v2 import output_statistics_output_dataset as stats
            loaded = stats.OutputStatisticsOutputDatasetFacet(rowCount=summary["loaded"])
            return (self._inputs(run, summary), self._outputs(run, {"outputStatistics": loaded}),
                    {SUMMARY_FACET: _summary_facet(summary)})
        self._send(run, "COMPLETE", build)

    def failed(self, run, exc: BaseException, error: str) -> None:
        """FAIL with the error (a stage failed or refused the run); ABORT when a person or a
        signal stopped it (Ctrl-C, SIGTERM)."""
        def build():
            from openlineage.client.facet_v2 import error_message_run
            facets = {} if stopped else {"errorMessage": error_message_run.ErrorMessageRunFacet(
                message=error, programmingLanguage="SQL")}
            return self._inputs(run), self._outputs(run), facets
        stopped = isinstance(exc, (KeyboardInterrupt, SystemExit))
        self._send(run, "ABORT" if stopped else "FAIL", build)

    def interrupted(self, run, killed: dict) -> None:
        """A run this one found killed (run/interrupted_runs.sql), which could not say so itself:
        ABORT, under the run id of its START."""
        self._send(run, "ABORT", lambda: ([], [], {}), run_id=killed["openlineage_run_id"],
                   job=killed["feed"], about=f"run {killed['run_id']}")

    # -- the parts ------------------------------------------------------------

    def _send(self, run, event_type: str, build, run_id=None, job=None, about=None) -> None:
        if self.given_up:
            return
        about = about or f"run {run.params['run_id']}"
        try:
            from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
            inputs, outputs, facets = build()
            from openlineage.client.facet_v2 import job_type_job
            kind = job_type_job.JobTypeJobFacet(processingType="BATCH", integration="SQL_INCREMENTAL_LOADER",
                                                jobType="LOAD")
            event = RunEvent(eventType=RunState[event_type], eventTime=_now(),
                             run=Run(runId=run_id or run.params["openlineage_run_id"], facets=facets),
                             job=Job(namespace=self.namespace, name=job or run.plan.feed.name,
                                     facets={"jobType": kind}),
                             inputs=inputs, outputs=outputs)
        except Exception as exc:  # e.g. the database went away: never at the run's expense
            self._give_up(f"the {event_type} event of {about} could not be built: {exc}")
            return
        outcome: list = []
        sender = threading.Thread(target=self._emit, args=(event, outcome), daemon=True)
        allowed = min(EMIT_SECONDS, RUN_SECONDS - self.waited)
        started = time.monotonic()
        sender.start()
        sender.join(max(allowed, 0.0))
        self.waited += time.monotonic() - started
        if sender.is_alive():
            self._give_up(f"the {event_type} event of {about} was not sent within {allowed:.3g} s "
                          "(the endpoint is down, slow or refusing; the client retries)")
        elif outcome:
            self._give_up(f"the {event_type} event of {about} was not sent: {outcome[0]}")

    def _emit(self, event, outcome: list) -> None:
        try:
            self.client.emit(event)
        except Exception as exc:
            outcome.append(f"{type(exc).__name__}: {exc}".strip())

    def _give_up(self, why: str) -> None:
        self.given_up = True
        self.warn(f"warning: OpenLineage: {why}; the run goes on, its other events unsent")

    def _inputs(self, run, summary: dict | None = None) -> list:
        """The files the run read (a replay: the dead_letter table), with their columns; once it
        is complete, with their records and data-quality assertions."""
        from openlineage.client.event_v2 import InputDataset
        from openlineage.client.facet_v2 import data_quality_assertions_dataset as quality
        from openlineage.client.facet_v2 import input_statistics_input_dataset as stats
        from openlineage.client.facet_v2 import schema_dataset
        if run.params["kind"] == "replay":
            facets = {"inputStatistics": stats.InputStatisticsInputDatasetFacet(rowCount=summary["input_records"]),
                      "dataQualityAssertions": quality.DataQualityAssertionsDatasetFacet(
                          assertions=self._assertions(run))} if summary else {}
            return [InputDataset(namespace=self._namespace(run), name=self._table(run, "dead_letter"),
                                 inputFacets=facets)]
        header = [name for name in (run.params["header"] or "").split(",") if name]
        schema = schema_dataset.SchemaDatasetFacet(fields=[
            schema_dataset.SchemaDatasetFacetFields(name=name, type="text") for name in header])
        read = {row["source"]: row for row in run.query("openlineage_inputs")} if summary else {}
        assertions = self._assertions(run) if summary else []
        datasets = []
        for source in run.input_files:
            input_facets = {}
            if source in read:
                input_facets["inputStatistics"] = stats.InputStatisticsInputDatasetFacet(
                    rowCount=read[source]["records"], size=os.path.getsize(source) if os.path.isfile(source) else None)
                input_facets["dataQualityAssertions"] = quality.DataQualityAssertionsDatasetFacet(assertions=assertions)
            datasets.append(InputDataset(namespace="file", name=source, facets={"schema": schema},
                                         inputFacets=input_facets))
        return datasets

    @staticmethod
    def _assertions(run) -> list:
        """One assertion per rule a record can fail, failed when it rejected one. Counted for
        the whole run: each of its files gets the run's (a run of one file, the usual case,
        is exact)."""
        from openlineage.client.facet_v2 import data_quality_assertions_dataset as quality
        feed = run.plan.feed
        rejects = run.query("openlineage_rejects")
        columns = {"key present": ", ".join(feed.key_columns), "timestamp present": feed.timestamp_column,
                   "timestamp valid": feed.timestamp_column, "timestamp not in the future": feed.timestamp_column}
        failed = {row["rule"] for row in rejects}
        assertions = [quality.Assertion(assertion=rule, description=description, success=rule not in failed,
                                        column=columns.get(rule)) for rule, description in GENERIC_RULES.items()]
        own = [row for row in rejects if row["rule"] == "feed rule"]
        assertions.append(quality.Assertion(assertion="feed rules", success=not own,
                                            description=f"the rules of the feed's definition, {feed.path.name}"))
        for row in own:
            first_word = row["description"].split(" ", 1)[0]
            assertions.append(quality.Assertion(
                assertion=row["description"], success=False, actual=f"{row['rejected']} rejected",
                column=first_word if first_word in feed.input_columns else None))
        return assertions

    def _outputs(self, run, facets=None) -> list:
        from openlineage.client.event_v2 import OutputDataset
        return [OutputDataset(namespace=self._namespace(run), name=self._table(run, run.plan.feed.target),
                              outputFacets=facets or {})]

    def _namespace(self, run) -> str:
        if self.names is None:
            self.names = database_names(run.db)
        return self.names[0]

    def _table(self, run, table: str) -> str:
        self._namespace(run)
        return f"{self.names[1]}.{table}" if self.names[1] else table


def database_names(db) -> tuple[str, str | None]:
    """The OpenLineage namespace of the database, and (PostgreSQL) its database.schema prefix.
    PostgreSQL: postgres://{host}:{port}, as the naming conventions say; a Unix socket is this
    machine's (its host name), and a URL without a port means the server's default one, which
    the connection knows. SQLite (no convention): sqlite://{host}{absolute path of the file}."""
    if db.name == "postgresql":
        info = db.conn.info
        schema = db.conn.execute("select current_schema()").fetchone()[0]
        return postgres_namespace(info.host, info.port), f"{info.dbname}.{schema}"
    return f"sqlite://{socket.gethostname()}{Path(db.display).resolve()}", None


def postgres_namespace(host: str, port: int | str, this_host: str | None = None) -> str:
    if not host or host.startswith("/"):  # a Unix socket's directory: the server runs here
        host = this_host or socket.gethostname()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"postgres://{host}:{port or 5432}"


def _summary_facet(summary: dict):
    from openlineage.client.facet_v2 import RunFacet
    keys = ("run_id", "kind", "input_records", "staged", "rejected", "loaded", "late_loaded", "inserted",
            "updated", "corrected", "deleted", "skipped", "late_skipped", "oldest_late", "stale", "differing",
            "superseded", "dead_letters", "dead_letters_repeated", "dead_letters_resolved", "lineage_entries",
            "watermark_before", "watermark")
    # (the loader's own run id is loaderRunId: runId is OpenLineage's)
    facet = RunFacet().with_additional_properties(
        **{"loaderRunId" if k == "run_id" else _camel(k): summary.get(k) for k in keys})
    facet._schemaURL = SUMMARY_SCHEMA
    return facet


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
