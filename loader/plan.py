"""Everything a run will execute, read and checked before the database is opened."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import Refused
from .sql_files import STAGE_NAME, Statement, check_params, discover_stages, for_engine, split_file

# The named parameters bound to every statement.
STAGE_PARAMS = {"run_id", "now", "source", "watermark", "lookback_seconds"}
# The runner's own statements (sql/run/) also get these.
HOOK_PARAMS = STAGE_PARAMS | {"kind", "format", "header", "host", "pid", "error", "key"}

HOOKS = ("open", "failed", "read_watermark", "refusals", "summary", "lineage_by_step",
         "history", "repair_watermark", "replay_source", "trace", "trace_row")


@dataclass(frozen=True)
class Plan:
    schema: list[Statement]               # the first stage: runs in the opening transaction
    stages: list[tuple[Path, list[Statement]]]   # the rest: one transaction
    hooks: dict[str, list[Statement]]

    @classmethod
    def read(cls, sql_dir: Path, engine: str) -> "Plan":
        files = discover_stages(sql_dir, engine)
        stages = [(path, split_file(path)) for path in files]
        hooks = {name: split_file(for_engine(sql_dir / "run" / f"{name}.sql", engine)) for name in HOOKS}
        for _, statements in stages:
            check_params(statements, STAGE_PARAMS)
        for statements in hooks.values():
            check_params(statements, HOOK_PARAMS)
        if not STAGE_NAME.match(files[0].name).group(1).lstrip("0") == "1":
            raise Refused(f"{sql_dir} has no stage 01: the schema stage, which creates the tables")
        return cls(schema=stages[0][1], stages=stages[1:], hooks=hooks)
