"""Everything a run will execute, read and checked before the database is opened."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import feed as feeds
from .errors import Refused
from .feed import Feed
from .sql_files import STAGE_NAME, Statement, check_params, discover_stages, discover_upgrades, for_engine, \
    split_file

# The named parameters bound to every statement: the run's, and the feed's (feed.Feed.params).
STAGE_PARAMS = {"run_id", "now", "source", "watermark", "lookback_seconds", "runner", "runner_options",
                "command_note", "feed", "target", "key_columns", "timestamp_column", "timestamp_format",
                "feed_definition", "deletes", "corrections", "history"}
# The runner's own statements (sql/run/) and the feed's trace section also get these.
HOOK_PARAMS = STAGE_PARAMS | {"kind", "format", "header", "host", "pid", "process_started", "error", "key",
                              "only_feed", "schema_version", "description", "prune_before", "openlineage_run_id",
                              "reason"}

HOOKS = ("schema_tables", "schema_version", "record_schema_version", "lineage_layout", "received_version",
         "functions", "open",
         "failed", "read_watermark", "refusals", "summary", "lineage_by_step", "history", "repair_watermark",
         "replay_source", "trace", "pruned_history", "prune_history", "database_size", "reuse_space", "vacuum",
         "interrupted_runs", "openlineage_inputs", "openlineage_rejects", "replay_headers", "has_open_dead_letters",
         "pruned_count", "existing_columns", "tombstone", "record_deliveries", "same_content",
         "choose_dead_letters", "chosen_dead_letters", "dismiss_dead_letters", "dismissed_dead_letters",
         "edit_dead_letters", "export_dead_letters", "version_history_reset", "version_history_started",
         "version_history_kept_by", "version_history_hole")

# Where a feed's sections run among the numbered stages: right after the stage numbered here.
# (02 checks that the input has the feed's columns before its views are built on them;
# versions reads run_batch, which 05 fills; the upsert, and the delete and history sections of
# a feed that has them, follow 09, which decides each record's outcome.) Its target section
# runs with the schema stage, in the opening transaction.
FEED_SECTIONS_AFTER = {"records": 2, "versions": 5, "upsert": 9, "delete": 9, "history": 9}


@dataclass(frozen=True)
class Step:
    name: str                      # what progress, timings and errors call it
    statements: list[Statement]


@dataclass(frozen=True)
class Plan:
    schema: list[Statement]        # the first stage: runs in the opening transaction
    stages: list[Step]             # the rest, with the feed's sections in place: one transaction
    hooks: dict[str, list[Statement]]
    upgrades: list[tuple[int, Path, list[Statement]]]   # (version, file, statements), oldest first
    feed: Feed

    @property
    def schema_version(self) -> int:
        """The version this release's schema stage creates: the newest upgrade's."""
        return self.upgrades[-1][0] if self.upgrades else 1

    @classmethod
    def read(cls, sql_dir: Path, engine: str, feed_option: str | None = None) -> "Plan":
        files = discover_stages(sql_dir, engine)
        if not STAGE_NAME.match(files[0].name).group(1).lstrip("0") == "1":
            raise Refused(f"{sql_dir} has no stage 01: the schema stage, which creates the tables")
        feed_path = feeds.find(feed_option, sql_dir)
        feed = feeds.read(feed_path, engine, by_name=None if feed_option and feeds.is_path(feed_option)
                          else feed_option or feeds.DEFAULT_FEED)
        sections = {name: after for name, after in FEED_SECTIONS_AFTER.items() if name in feed.sections}
        # the stages read the feed's records as feed_changes: with _delete, which a feed without
        # deletes does not give (sql/run/changes_*.sql)
        changes = split_file(sql_dir / "run" / ("changes_with_deletes.sql" if feed.deletes != "none"
                                                else "changes_without_deletes.sql"))
        # and the stored versions as stored_compared: with _same, which a definition written
        # before corrections does not give (sql/run/versions_*compared.sql)
        compared = split_file(sql_dir / "run" / ("versions_compared.sql" if feed.compares_values
                                                 else "versions_not_compared.sql"))
        appended = {"records": changes, "versions": compared}
        prepended, inserted = {}, {}
        if feed.history == "on":  # the version history's bookkeeping, around the feed's section:
            # which versions the run received and the fold's views (before); the fold, once, right
            # after the section ranks the values and before it writes; what each record did (after)
            prepended["history"] = split_file(sql_dir / "run" / "version_history_received.sql")
            inserted["history"] = split_file(sql_dir / "run" / "version_history_folded.sql")
            appended["history"] = split_file(sql_dir / "run" / "version_history_kept.sql")
        stages = []
        for path in files[1:]:
            stages.append(Step(path.name, split_file(path)))
            number = int(path.name.split("_", 1)[0])
            stages += [Step(f"{feed_path.parent.name}/{feed_path.name}: {section}",
                            prepended.get(section, []) + feeds.with_inserted(feed, section, inserted.get(section))
                            + appended.get(section, []))
                       for section, after in sections.items() if after == number]
        if len(stages) != len(files) - 1 + len(sections):
            raise Refused(f"{sql_dir} lacks a stage numbered "
                          + " or ".join(f"{n:02d}" for n in sorted(set(FEED_SECTIONS_AFTER.values())))
                          + ", after which the feed's sections run")
        hooks = {name: split_file(for_engine(sql_dir / "run" / f"{name}.sql", engine)) for name in HOOKS}
        # the trace section: the key's row in the target; then, for a feed that keeps a version
        # history, its versions (a second select)
        hooks["trace_row"], hooks["trace_versions"] = feed.sections["trace"][:1], feed.sections["trace"][1:]
        upgrades = [(version, path, split_file(path)) for version, path in discover_upgrades(sql_dir, engine)]
        for statements in [feed.sections["target"], *(step.statements for step in stages)]:
            check_params(statements, STAGE_PARAMS)
        for statements in [*hooks.values(), *(u[2] for u in upgrades)]:
            check_params(statements, HOOK_PARAMS)
        return cls(schema=split_file(files[0]), stages=stages, hooks=hooks, upgrades=upgrades, feed=feed)
