-- Records the run's outcome and counts in run_log, and the feed and its target
-- in feeds, inside the load transaction: they commit together with the data
-- they describe.
-- Reads: run_batch, dead_letter, watermark. Writes: run_log, feeds.
update run_log
   set status = 'succeeded',
       finished_at = :now,
       input_records = counts.input_records,
       staged = counts.staged,
       rejected = counts.rejected,
       loaded = counts.loaded,
       late_loaded = counts.late_loaded,
       inserted = counts.inserted,
       updated = counts.updated,
       deleted = counts.deleted,
       differing = counts.differing,
       corrected = counts.corrected,
       history_opened = counts.history_opened,
       history_split = counts.history_split,
       history_closed = counts.history_closed,
       skipped = counts.skipped,
       stale = counts.stale,
       superseded = counts.superseded,
       dead_letters = counts.dead_letters,
       dead_letters_repeated = counts.rejected - counts.dead_letters,
       dead_letters_resolved = (select count(*) from dead_letter where resolved_by_run = :run_id),
       lineage_entries = counts.staged + counts.input_records,  -- staged, and every outcome
       watermark_before = :watermark,
       watermark_after = (select value from watermark where feed = :feed),
       late_skipped = counts.late_skipped,
       oldest_late = counts.oldest_late
  from (select count(*) as input_records,
               count(*) filter (where _outcome <> 'rejected') as staged,
               count(*) filter (where _outcome = 'rejected') as rejected,
               count(*) filter (where _outcome = 'loaded') as loaded,
               count(*) filter (where _outcome = 'loaded' and _ts < :watermark) as late_loaded,
               count(*) filter (where _outcome = 'loaded' and _detail = 'inserted') as inserted,
               count(*) filter (where _outcome = 'loaded' and _detail = 'updated') as updated,
               count(*) filter (where _outcome = 'deleted') as deleted,
               count(*) filter (where _outcome = 'differing') as differing,
               count(*) filter (where _outcome = 'loaded' and _detail = 'corrected') as corrected,
               count(*) filter (where _outcome = 'skipped') as skipped,
               count(*) filter (where _outcome = 'skipped' and _detail = 'late') as late_skipped,
               min(_ts) filter (where _outcome = 'skipped' and _detail = 'late') as oldest_late,
               count(*) filter (where _outcome = 'stale') as stale,
               count(*) filter (where _outcome = 'superseded') as superseded,
               count(*) filter (where _history = 'opened') as history_opened,
               count(*) filter (where _history = 'split') as history_split,
               count(*) filter (where _history = 'closed') as history_closed,
               (select count(*) from dead_letter where run_id = :run_id) as dead_letters
          from run_batch) as counts
 where run_log.run_id = :run_id;

-- (history_through: the run through which the feed's version history is kept; behind
-- last_run_id, a later run with history on refuses to extend it)
insert into feeds (feed, target, definition, last_run_id, history_through)
values (:feed, :target, :feed_definition, :run_id, case when :history = 'on' then :run_id end)
on conflict (feed) do update
   set target = excluded.target,
       definition = excluded.definition,
       last_run_id = excluded.last_run_id,
       history_through = case when :history = 'on' then excluded.last_run_id else feeds.history_through end;
