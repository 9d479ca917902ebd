-- Version history, after the feed's history section wrote the windows: the versions
-- this run received are kept (received_version), and each record that opened, split
-- or closed a window says so in its lineage (run_batch._history; 10) and the run's
-- counts (12). Reads the fold (history_folded), from which the history section wrote.

-- every version this run's record won: new to its key, or replacing one received before
insert into received_version (feed, key, version, delivery_id, run_id, line_no, deleted)
select :feed, candidate._key, candidate.version, candidate.delivery, :run_id, candidate._line_no, candidate._delete
  from history_folded as folded
  join history_candidate as candidate on candidate._record_no = folded._record_no
 where folded._won = 1
on conflict (feed, key, version) do update
   set delivery_id = excluded.delivery_id,
       run_id = excluded.run_id,
       line_no = excluded.line_no,
       deleted = excluded.deleted;

-- what each did: a deletion that closed a window; a version that opened one inside a
-- window held before, with versions after it (split), or at the end or in a gap (opened)
update run_batch
   set _history = case when folded._closes = 1 then 'closed'
                       when exists (select 1 from history_rank as old
                                     where old._key = folded._key
                                       and old._valid_from < folded.version
                                       and (old._valid_to > folded.version
                                            or (old._valid_to is null
                                                and exists (select 1 from history_folded as later
                                                             where later._key = folded._key
                                                               and later.version > folded.version))))
                            then 'split'
                       else 'opened' end
  from history_folded as folded
 where folded._record_no = run_batch._record_no
   and (folded._opens = 1 or folded._closes = 1);
