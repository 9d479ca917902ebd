"""The stage files: discovery, splitting, parameter checks, and adding a stage."""


import pytest

from conftest import ORDERS_SAMPLE, SAMPLE
from loader.errors import Refused
from loader.sql_files import check_params, discover_stages, split_file


@pytest.fixture
def loader(sqlite_loader):
    """Stage-file handling does not depend on the engine."""
    return sqlite_loader


def test_split_keeps_the_line_each_statement_starts_on(tmp_path):
    f = tmp_path / "01_x.sql"
    f.write_text("-- about this file\n\nselect 1;\n\n-- why\ninsert into t\nvalues (:a, ':not_a_param', x::int);\n;\n")
    statements = split_file(f)
    assert [(s.line, s.first_line, s.params) for s in statements] == [
        (3, "select 1;", frozenset()),
        (6, "insert into t", frozenset({"a"})),
    ]


def test_stages_run_in_number_order_not_name_order(tmp_path):
    for name in ("10_c.sql", "2_b.sql", "01_a.sql"):
        (tmp_path / name).write_text("select 1;")
    assert [p.name for p in discover_stages(tmp_path, "sqlite")] == ["01_a.sql", "2_b.sql", "10_c.sql"]


def test_a_duplicate_stage_number_names_both_files(tmp_path):
    (tmp_path / "03_a.sql").write_text("select 1;")
    (tmp_path / "03_b.sql").write_text("select 1;")
    with pytest.raises(Refused, match=r"03_a\.sql and .*03_b\.sql share the stage number 3"):
        discover_stages(tmp_path, "sqlite")


def test_an_engine_file_overrides_its_stage_on_that_engine_only(tmp_path):
    for name in ("01_a.sql", "02_time.sql", "02_time.postgresql.sql"):
        (tmp_path / name).write_text("select 1;")
    assert [p.name for p in discover_stages(tmp_path, "sqlite")] == ["01_a.sql", "02_time.sql"]
    assert [p.name for p in discover_stages(tmp_path, "postgresql")] == ["01_a.sql", "02_time.postgresql.sql"]


def test_an_override_without_its_stage_is_refused(tmp_path):
    (tmp_path / "01_a.sql").write_text("select 1;")
    (tmp_path / "02_time.postgresql.sql").write_text("select 1;")
    with pytest.raises(Refused, match=r"overrides 02_time\.sql, which does not exist"):
        discover_stages(tmp_path, "postgresql")


def test_placeholders_become_pyformat_for_psycopg_but_strings_and_casts_stay(tmp_path):
    f = tmp_path / "01_x.sql"
    f.write_text("select :now::timestamp, ':now', x like '5%' from t where id = :run_id;")
    assert split_file(f)[0].pyformat_text == (
        "select %(now)s::timestamp, ':now', x like '5%%' from t where id = %(run_id)s;")


def test_an_unknown_parameter_is_refused_before_running(tmp_path):
    f = tmp_path / "01_x.sql"
    f.write_text("select 1;\nselect :run_id, :batch_size;\n")
    with pytest.raises(Refused, match=r"01_x\.sql:2: uses :batch_size"):
        check_params(split_file(f), {"run_id", "now"})


def test_duplicate_number_through_the_cli_changes_nothing(loader):
    sql = loader.copy_sql()
    (sql / "05_another.sql").write_text("delete from events;\n")
    result = loader.run(SAMPLE)
    assert result.code == 2
    assert "share the stage number 5" in result.stderr
    assert not loader.db.exists()  # refused before the database was opened


def test_a_dropped_in_file_becomes_a_stage_of_every_feed(loader):
    sql = loader.copy_sql()
    (sql / "13_count_rejects.sql").write_text(
        "-- A custom stage: no code change needed.\n"
        "create table if not exists rejects_by_reason (run_id integer, feed text, reason text, records integer);\n"
        "insert into rejects_by_reason\n"
        "select :run_id, :feed, _reason, count(*) from run_batch where _outcome = 'rejected' group by _reason;\n")
    assert loader.run(SAMPLE).code == 0
    assert loader.run(ORDERS_SAMPLE, "--feed", "orders").code == 0
    assert loader.rows("select * from rejects_by_reason order by run_id, reason") == [
        (1, "events", "amount is not a number: twelve", 1),
        (1, "events", "event_ts is not a valid timestamp: 2025-02-30T10:00:00", 1),
        (2, "orders", "store_id or order_id is missing", 1),
        (2, "orders", "total is not a decimal number: ten", 1),
        (2, "orders", "updated_at is not a valid timestamp: yesterday", 1)]


def test_a_statement_about_one_feeds_columns_goes_in_its_definition(loader):
    sql = loader.copy_sql()
    feed = sql / "feeds" / "events.sql"
    feed.write_text(feed.read_text().replace("-- section: trace", (
        "create table if not exists big_amounts (run_id integer, event_id text);\n"
        "insert into big_amounts select :run_id, event_id from run_batch where _outcome = 'loaded' and amount >= 50;\n"
        "\n-- section: trace")))
    assert loader.run(SAMPLE).code == 0
    assert loader.run(ORDERS_SAMPLE, "--feed", "orders").code == 0  # other feeds are untouched
    assert loader.rows("select * from big_amounts") == [(1, "evt-005")]


def test_stage_zero_is_refused_because_01_is_the_schema(tmp_path):
    (tmp_path / "00_pre.sql").write_text("select 1;")
    (tmp_path / "01_schema.sql").write_text("select 1;")
    with pytest.raises(Refused, match="stage numbers start at 01"):
        discover_stages(tmp_path, "sqlite")
