"""Every load and replay on record is reported to OpenLineage through the real client, when the
environment configures it (file and HTTP transports here), and never at a load's expense: an
endpoint that is down or slow costs one warning line, and with no configuration the client is
not even imported."""

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, SAMPLE

pytest.importorskip("openlineage.client", reason="pip install -r requirements-openlineage.txt")

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState  # noqa: E402
from openlineage.client.facet_v2 import (  # noqa: E402
    RunFacet, data_quality_assertions_dataset, error_message_run, input_statistics_input_dataset, job_type_job,
    output_statistics_output_dataset, schema_dataset, tags_run)
from openlineage.client.serde import Serde  # noqa: E402

from loader.openlineage import (  # noqa: E402
    EMIT_SECONDS, RUN_SECONDS, SUMMARY_FACET, SUMMARY_SCHEMA, postgres_namespace)


# -- reading events back into the client's own classes -----------------------

def client_event(event: dict) -> RunEvent:
    """The event as the client's RunEvent, built field by field from what was received (its
    validators check the run id, the times, the URLs); it must serialise back to the same."""
    def facet(cls, data: dict, **fields):
        built = cls(**fields, producer=data["_producer"])
        assert built._schemaURL == data["_schemaURL"]
        return built

    def dataset_facets(d):
        return {"schema": facet(schema_dataset.SchemaDatasetFacet, d["schema"], fields=[
            schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f["type"]) for f in d["schema"]["fields"]])} \
            if d else {}

    def input_facets(d):
        out = {}
        if "inputStatistics" in d:
            s = d["inputStatistics"]
            out["inputStatistics"] = facet(input_statistics_input_dataset.InputStatisticsInputDatasetFacet, s,
                                           rowCount=s["rowCount"], size=s.get("size"))
        if "dataQualityAssertions" in d:
            q = d["dataQualityAssertions"]
            out["dataQualityAssertions"] = facet(
                data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet, q, assertions=[
                    data_quality_assertions_dataset.Assertion(**a) for a in q["assertions"]])
        return out

    def run_facets(d):
        out = {}
        for name, f in d.items():
            if name == "errorMessage":
                out[name] = facet(error_message_run.ErrorMessageRunFacet, f, message=f["message"],
                                  programmingLanguage=f["programmingLanguage"])
            elif name == "tags":
                out[name] = facet(tags_run.TagsRunFacet, f, tags=[tags_run.TagsRunFacetFields(**t) for t in f["tags"]])
            elif name == SUMMARY_FACET:
                custom = RunFacet(producer=f["_producer"]).with_additional_properties(
                    **{k: v for k, v in f.items() if not k.startswith("_")})
                custom._schemaURL = f["_schemaURL"]
                out[name] = custom
            else:
                raise AssertionError(f"an unexpected run facet: {name}")
        return out

    built = RunEvent(
        eventType=RunState[event["eventType"]], eventTime=event["eventTime"], producer=event["producer"],
        run=Run(runId=event["run"]["runId"], facets=run_facets(event["run"]["facets"])),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"], facets={
            name: facet(job_type_job.JobTypeJobFacet, f, processingType=f["processingType"],
                        integration=f["integration"], jobType=f["jobType"])
            for name, f in event["job"]["facets"].items()}),
        inputs=[InputDataset(namespace=i["namespace"], name=i["name"], facets=dataset_facets(i["facets"]),
                             inputFacets=input_facets(i["inputFacets"])) for i in event["inputs"]],
        outputs=[OutputDataset(namespace=o["namespace"], name=o["name"], outputFacets={
            "outputStatistics": facet(output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
                                      o["outputFacets"]["outputStatistics"],
                                      rowCount=o["outputFacets"]["outputStatistics"]["rowCount"])}
            if o["outputFacets"] else {}) for o in event["outputs"]])
    assert Serde.to_dict(built) == event
    return built


# -- where events go ----------------------------------------------------------

def file_transport(tmp_path) -> dict:
    return {"OPENLINEAGE__TRANSPORT__TYPE": "file", "OPENLINEAGE__TRANSPORT__APPEND": "true",
            "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH": str(tmp_path / "events.jsonl")}


def events_in(tmp_path) -> list[dict]:
    path = tmp_path / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class Recorder(http.server.BaseHTTPRequestHandler):
    received: list = []
    delay = 0.0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.delay)
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    """An OpenLineage HTTP endpoint on 127.0.0.1 that records what it receives."""
    handler = type("Handler", (Recorder,), {"received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, handler
    server.shutdown()


def run(loader, *args, env: dict, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    """The runner as a user runs it, with only the OpenLineage configuration env gives."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
    cmd = [sys.executable, str(ROOT / "runner.py"), *map(str, args), "--db", str(loader.db),
           "--now", "2025-02-01T00:00:00"]
    return subprocess.run(cmd, capture_output=True, text=True, env={**clean, "HOME": str(loader.tmp), **env},
                          cwd=cwd or loader.tmp, **kwargs)


# -- the events ---------------------------------------------------------------

def test_a_load_reports_start_and_complete(loader, tmp_path):
    done = run(loader, SAMPLE, env=file_transport(tmp_path))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)

    start, complete = events_in(tmp_path)
    assert [start["eventType"], complete["eventType"]] == ["START", "COMPLETE"]
    for event in (start, complete):
        client_event(event)
        assert (event["job"]["namespace"], event["job"]["name"]) == ("sql-incremental-loader", "events")
        assert event["job"]["facets"]["jobType"]["processingType"] == "BATCH"
    # one OpenLineage run, matched to its row in run_log
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert loader.rows("select openlineage_run_id from run_log where run_id = ?", summary["run_id"]) == [
        (start["run"]["runId"],)]
    # what it read: the file, its columns, its records, and what the validation rules made of them
    (source,) = complete["inputs"]
    assert (source["namespace"], source["name"]) == ("file", str(SAMPLE))
    assert [f["name"] for f in source["facets"]["schema"]["fields"]] == ["event_id", "event_ts", "user_id", "amount"]
    assert source["inputFacets"]["inputStatistics"] == {**source["inputFacets"]["inputStatistics"],
                                                        "rowCount": summary["input_records"],
                                                        "size": SAMPLE.stat().st_size}
    failed = {a["assertion"] for a in source["inputFacets"]["dataQualityAssertions"]["assertions"]
              if not a["success"]}
    reasons = [r[0] for r in loader.rows("select reason from dead_letter order by 1")]
    assert len(reasons) == summary["rejected"] == 2
    assert failed == {"timestamp valid", "feed rules", "amount is not a number"}, reasons
    # what it wrote, and the rest of the summary
    (target,) = complete["outputs"]
    assert target["outputFacets"]["outputStatistics"]["rowCount"] == summary["loaded"]
    if loader.engine == "sqlite":
        assert (target["namespace"], target["name"]) == (f"sqlite://{socket.gethostname()}{loader.db}", "events")
    facet = complete["run"]["facets"][SUMMARY_FACET]
    assert facet["_schemaURL"] == SUMMARY_SCHEMA
    assert {k: facet[k] for k in ("loaderRunId", "loaded", "rejected", "skipped", "stale", "watermark")} == {
        "loaderRunId": summary["run_id"], "loaded": summary["loaded"], "rejected": summary["rejected"],
        "skipped": summary["skipped"], "stale": summary["stale"], "watermark": summary["watermark"]}
    assert "OpenLineage" not in done.stderr


def test_a_failed_stage_reports_fail_with_its_error(loader, tmp_path):
    stage = loader.copy_sql() / "09_compare_with_stored.sql"
    stage.write_text(stage.read_text() + "\nselect * from no_such_table;\n")
    done = run(loader, SAMPLE, "--sql-dir", loader.sql_dir, env=file_transport(tmp_path))
    assert done.returncode == 1
    start, fail = events_in(tmp_path)
    client_event(fail)
    assert (fail["eventType"], fail["run"]["runId"]) == ("FAIL", start["run"]["runId"])
    error = fail["run"]["facets"]["errorMessage"]["message"]
    assert "no_such_table" in error
    assert loader.rows("select status, error from run_log") == [("failed", error)]


def test_a_stage_that_refuses_the_run_reports_fail(loader, tmp_path):
    batch = loader.batch("k1,2025-01-15T00:00:00", header="event_id,event_ts\n")  # no user_id, amount
    done = run(loader, batch, env=file_transport(tmp_path))
    assert done.returncode == 2
    assert [e["eventType"] for e in events_in(tmp_path)] == ["START", "FAIL"]
    assert "no column" in events_in(tmp_path)[1]["run"]["facets"]["errorMessage"]["message"]


def test_nothing_is_reported_for_a_command_refused_before_a_run_or_a_dry_run(loader, tmp_path):
    assert run(loader, SAMPLE, env={}).returncode == 0
    assert run(loader, tmp_path / "missing.csv", env=file_transport(tmp_path)).returncode == 2
    assert run(loader, SAMPLE, "--dry-run", env=file_transport(tmp_path)).returncode == 0
    assert run(loader, "--runs", env=file_transport(tmp_path)).returncode == 0
    assert events_in(tmp_path) == []


def test_a_replay_is_reported_reading_dead_letter(loader, tmp_path):
    assert run(loader, SAMPLE, env={}).returncode == 0
    loader.rows("update dead_letter set raw = replace(raw, 'twelve', '12')")
    done = run(loader, "--replay-dead-letters", env=file_transport(tmp_path))
    assert done.returncode == 0, done.stderr
    start, complete = events_in(tmp_path)
    client_event(complete)
    (source,) = complete["inputs"]
    assert source["name"].endswith("dead_letter") and source["inputFacets"]["inputStatistics"]["rowCount"] == 2
    failed = [a["assertion"] for a in source["inputFacets"]["dataQualityAssertions"]["assertions"] if not a["success"]]
    assert failed == ["timestamp valid"]  # the sample's impossible date, rejected again
    assert complete["run"]["facets"][SUMMARY_FACET]["kind"] == "replay"
    # with no open dead letters left, a replay is no run: nothing is reported
    assert json.loads(done.stdout)["rejected"] == 1  # the sample's bad timestamp is still bad
    loader.rows("update dead_letter set status = 'resolved' where status = 'open'")
    assert json.loads(run(loader, "--replay-dead-letters", env=file_transport(tmp_path)).stdout) == {"replayed": 0}
    assert len(events_in(tmp_path)) == 2


def loading_when_started(loader, tmp_path, big_batch) -> subprocess.Popen:
    """A load of big_batch, reported to a file, half a second after its START was written."""
    runner = subprocess.Popen([sys.executable, str(ROOT / "runner.py"), str(big_batch), "--db", str(loader.db),
                               "--now", "2025-03-01T00:00:00", "-q"], env={**os.environ, **file_transport(tmp_path)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_events(tmp_path, 1)
    time.sleep(0.5)
    return runner


def test_sigterm_reports_abort(loader, tmp_path, big_batch):
    runner = loading_when_started(loader, tmp_path, big_batch)
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=60) == 143
    start, abort = events_in(tmp_path)
    assert (abort["eventType"], abort["run"]["runId"]) == ("ABORT", start["run"]["runId"])
    client_event(abort)


def test_a_killed_run_is_reported_aborted_by_the_next_run(loader, tmp_path, big_batch):
    runner = loading_when_started(loader, tmp_path, big_batch)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    (start,) = events_in(tmp_path)

    done = run(loader, SAMPLE, env=file_transport(tmp_path))
    assert done.returncode == 0, done.stderr
    abort, *own = events_in(tmp_path)[1:]
    assert (abort["eventType"], abort["run"]["runId"]) == ("ABORT", start["run"]["runId"])
    assert abort["job"]["name"] == "events"
    assert [e["eventType"] for e in own] == ["START", "COMPLETE"]
    assert loader.rows("select status from run_log where openlineage_run_id = ?", start["run"]["runId"]) == [
        ("interrupted",)]


def wait_for_events(tmp_path, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(events_in(tmp_path)) < n:
        assert time.monotonic() < deadline, "no START event"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def big_batch(tmp_path_factory):
    from bench.generate_batch import write_batch
    path = tmp_path_factory.mktemp("batch") / "big.csv"
    write_batch(path, 600_000, seed=5)
    return path


# -- the transports, and what is never at the load's expense -----------------

def test_http_transport_delivers_every_event(loader, endpoint):
    server, handler = endpoint
    done = run(loader, SAMPLE, env={"OPENLINEAGE_URL": f"http://127.0.0.1:{server.server_port}"})
    assert done.returncode == 0, done.stderr
    assert [(path, body["eventType"]) for path, body in handler.received] == [
        ("/api/v1/lineage", "START"), ("/api/v1/lineage", "COMPLETE")]
    for _, body in handler.received:
        client_event(body)


def test_an_endpoint_that_is_down_costs_one_warning(loader):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    done = run(loader, SAMPLE, env={"OPENLINEAGE_URL": f"http://127.0.0.1:{port}"})
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 2 * EMIT_SECONDS + 10
    warnings = [line for line in done.stderr.splitlines() if "OpenLineage" in line]
    assert len(warnings) == 1 and "START event of run 1" in warnings[0]
    assert loader.rows("select status, loaded from run_log") == [("succeeded", 5)]


def test_a_slow_endpoint_delays_a_load_by_seconds_at_most(loader, endpoint):
    server, handler = endpoint
    handler.delay = 60
    started = time.monotonic()
    done = run(loader, SAMPLE, env={"OPENLINEAGE_URL": f"http://127.0.0.1:{server.server_port}",
                                    "OPENLINEAGE__TRANSPORT__TIMEOUT": "120"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < EMIT_SECONDS + 10
    assert f"not sent within {EMIT_SECONDS:g} s" in done.stderr


def test_a_run_waits_a_few_seconds_in_all_for_a_slow_endpoint(loader, endpoint):
    server, handler = endpoint
    handler.delay = EMIT_SECONDS * 0.9  # each event just within its own limit
    started = time.monotonic()
    done = run(loader, SAMPLE, env={"OPENLINEAGE_URL": f"http://127.0.0.1:{server.server_port}"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < RUN_SECONDS + 5
    assert "OpenLineage" in done.stderr  # the second event did not fit in what was left


@pytest.mark.parametrize("slow_event", ["START", "COMPLETE"])
def test_a_stop_while_an_event_is_sent(loader, endpoint, slow_event):
    """SIGTERM while START is sent: the run is recorded failed (and reported aborted, if it can
    be); while COMPLETE is sent: the run was committed, and says so."""
    server, handler = endpoint
    handler.delay = 0.0
    arrived = threading.Event()

    def do_POST(self, original=handler.do_POST):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        event = json.loads(body)
        if event["eventType"] == slow_event:
            arrived.set()
            time.sleep(30)
        type(self).received.append((self.path, event))
        self.send_response(200)
        self.end_headers()
    handler.do_POST = do_POST
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
    runner = subprocess.Popen([sys.executable, str(ROOT / "runner.py"), str(SAMPLE), "--db", str(loader.db)],
                              env={**clean, "OPENLINEAGE_URL": f"http://127.0.0.1:{server.server_port}"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert arrived.wait(60), "the event never came"  # the runner is sending it now
    runner.send_signal(signal.SIGTERM)
    out, err = runner.communicate(timeout=60)
    if slow_event == "START":
        assert runner.returncode == 143
        assert loader.rows("select status, error from run_log") == [("failed", "stopped by a signal; nothing was kept")]
    else:
        assert runner.returncode == 0, err
        assert json.loads(out)["loaded"] == 5 and "stopped by SIGTERM after run 1 was committed" in err and "rolled back" not in err
        assert loader.rows("select status from run_log") == [("succeeded",)]


def test_no_configuration_no_client_no_events(loader, tmp_path):
    """Without configuration the client is not imported: a Python that cannot import it loads in
    silence (with configuration, it says what to install and loads all the same)."""
    blocker = tmp_path / "block" / "openlineage"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for this test')\n")
    blocked = {"PYTHONPATH": str(tmp_path / "block")}
    quiet = run(loader, SAMPLE, env=blocked)
    assert quiet.returncode == 0 and "OpenLineage" not in quiet.stderr
    configured = run(loader, SAMPLE, env={**blocked, **file_transport(tmp_path)})
    assert configured.returncode == 0
    (line,) = [line for line in configured.stderr.splitlines() if "OpenLineage" in line]
    assert f"{sys.executable} -m pip install -r {ROOT / 'requirements-openlineage.txt'}" in line


def test_disabled_or_configured_by_a_file(loader, tmp_path):
    assert run(loader, SAMPLE, env={**file_transport(tmp_path), "OPENLINEAGE_DISABLED": "true"}).returncode == 0
    assert events_in(tmp_path) == []
    (loader.tmp / "openlineage.yml").write_text(
        f"transport:\n  type: file\n  log_file_path: {tmp_path / 'events.jsonl'}\n  append: true\n")
    assert run(loader, SAMPLE, env={}, cwd=loader.tmp).returncode == 0
    assert [e["eventType"] for e in events_in(tmp_path)] == ["START", "COMPLETE"]


def test_postgres_datasets_are_named_as_the_conventions_say(pg, tmp_path):
    done = run(pg, SAMPLE, env=file_transport(tmp_path))
    assert done.returncode == 0, done.stderr
    complete = events_in(tmp_path)[-1]
    (target,) = complete["outputs"]
    database = pg.rows("select current_database(), current_schema(), current_setting('port')")[0]
    # the tests' server listens on a Unix socket: it runs on this machine
    assert target["namespace"] == f"postgres://{socket.gethostname()}:{database[2]}"
    assert target["name"] == f"{database[0]}.{database[1]}.events"


@pytest.mark.parametrize("host, port, expected", [
    ("db.example.com", 5433, "postgres://db.example.com:5433"),
    ("db.example.com", None, "postgres://db.example.com:5432"),  # a URL without a port: the default
    ("/var/run/postgresql", 5432, "postgres://this-machine:5432"),  # a Unix socket: this machine
    ("", 5432, "postgres://this-machine:5432"),
])
def test_postgres_namespace(host, port, expected):
    assert postgres_namespace(host, port, this_host="this-machine") == expected


@pytest.fixture
def pg(request, tmp_path):
    from conftest import make_loader
    return make_loader("postgresql", tmp_path, request)


def test_the_console_transport_writes_to_stderr_and_no_transport_is_no_events(loader):
    done = run(loader, SAMPLE, env={"OPENLINEAGE__TRANSPORT__TYPE": "console"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["loaded"] == 5  # stdout is the summary, and only that
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    # configured, but with no transport the client would fall back to the console: not asked for
    vague = run(loader, SAMPLE, env={"OPENLINEAGE__TRANSPORT__ENDPOINT": "api/v1/lineage"})
    assert vague.returncode == 0
    (line,) = [line for line in vague.stderr.splitlines() if "OpenLineage" in line]
    assert "names no transport" in line and not [x for x in vague.stderr.splitlines() if x.startswith("{")]
