"""A database that cannot be used: a clear message, a non-zero exit, nothing overwritten."""

import hashlib

import pytest

from conftest import SAMPLE


@pytest.fixture
def loader(sqlite_loader):
    """These are problems of a database file: SQLite only."""
    return sqlite_loader


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_that_is_not_sqlite_is_left_alone(loader):
    loader.db.write_text("my precious notes\n" * 100)
    before = digest(loader.db)
    result = loader.run(SAMPLE)
    assert result.code == 3
    assert "is not a SQLite database; refusing to touch it" in result.stderr
    assert digest(loader.db) == before
    assert sorted(p.name for p in loader.tmp.iterdir()) == ["pipeline.db"]


def test_a_read_only_database_is_reported_and_unchanged(loader):
    assert loader.run(SAMPLE).code == 0
    loader.db.chmod(0o444)
    before = digest(loader.db)
    result = loader.run(loader.batch("k,2025-01-20T00:00:00,u,1"), obey_file_modes=True)
    assert result.code == 3, result.stderr
    assert "readonly" in result.stderr and "Traceback" not in result.stderr
    assert digest(loader.db) == before


def test_a_missing_directory_is_reported_not_created(loader):
    loader.db = loader.tmp / "no" / "such" / "dir" / "pipeline.db"
    result = loader.run(SAMPLE)
    assert result.code == 3
    assert "does not exist" in result.stderr
    assert not (loader.tmp / "no").exists()


def test_a_full_disk_rolls_back_and_is_logged(loader):
    assert loader.run(SAMPLE).code == 0
    before = {t: loader.table(t) for t in ("events", "dead_letter", "lineage", "watermark")}
    pages = loader.rows("pragma page_count")[0][0]
    sql = loader.copy_sql()
    stage = sql / "06_route_rejects.sql"
    # simulate a full disk: the database may not grow by more than two pages
    stage.write_text(f"pragma max_page_count = {pages + 2};\n" + stage.read_text())
    big = [f"k{i},2025-01-20T00:00:00,{'u' * 200},{i}" for i in range(2000)]
    result = loader.run(loader.batch(*big))
    assert result.code == 3, result.stderr
    assert "database or disk is full" in result.stderr
    assert {t: loader.table(t) for t in before} == before
    status, error = loader.rows("select status, error from run_log where run_id = 2")[0]
    assert status == "failed" and "full" in error


def test_a_device_or_directory_is_not_a_database(loader):
    for target in ("/dev/null", str(loader.tmp) + "/"):
        loader.db = target
        result = loader.run(SAMPLE)
        assert result.code == 3, result.stderr
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_damaged_database_is_reported(loader):
    assert loader.run(SAMPLE).code == 0
    assert loader.rows("pragma wal_checkpoint(truncate)")
    data = loader.db.read_bytes()
    loader.db = loader.tmp / "damaged.db"
    loader.db.write_bytes(data[:2000])
    result = loader.run(SAMPLE)
    assert result.code == 3, result.stderr
    assert "damaged" in result.stderr or "malformed" in result.stderr
