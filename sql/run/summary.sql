-- The run's summary: the JSON object the runner prints on stdout.
-- Each column becomes a key, in this order.
select run_id,
       feed,
       kind,
       status,
       source,
       input_records,
       staged,
       rejected,
       loaded,
       late_loaded,
       inserted,
       updated,
       corrected,
       deleted,
       skipped,
       late_skipped,
       oldest_late,
       stale,
       differing,
       superseded,
       -- (for a feed that keeps a version history only: load.py leaves them out for others)
       history_opened,
       history_split,
       history_closed,
       dead_letters,
       dead_letters_repeated,
       dead_letters_resolved,
       lineage_entries,
       watermark_before,
       watermark_after as watermark
  from run_log
 where run_id = :run_id;
