-- One lineage entry per record per step: 'staged' for every valid record,
-- then its outcome (loaded, skipped, stale, superseded); 'rejected' alone for
-- an invalid one. Every input record of the run appears here by line_no.
-- Reads: run_batch. Writes: lineage (event_id: the key as text; event_ts: its timestamp).
--
-- lineage_id is numbered from the record's position, two ids per record
-- (staged, then outcome), so a record's entries sit together without a sort.
insert into lineage (lineage_id, feed, run_id, step, event_id, source, line_no, event_ts, detail)
select previous.id + 2 * _record_no - 1, :feed, :run_id, 'staged', _key, _source, _line_no, _ts, cast(null as text)
  from run_batch, (select coalesce(max(lineage_id), 0) as id from lineage) as previous
 where _outcome <> 'rejected'
union all
select previous.id + 2 * _record_no, :feed, :run_id, _outcome, _key, _source, _line_no, _ts, _detail
  from run_batch, (select coalesce(max(lineage_id), 0) as id from lineage) as previous;
