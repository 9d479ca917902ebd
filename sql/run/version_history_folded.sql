-- The fold of the changed keys' versions into windows (version_history_received.sql's
-- views), kept once: run by the loader right after the feed's history section has
-- ranked the values (its insert into history_rank), before it writes the windows.
update history_key
   set _start = coalesce((select max(old._valid_from) from history_rank as old
                           where old._key = history_key._key and old._valid_from < history_key._from), _from);

insert into history_folded (_key, version, _delete, _record_no, _old_valid_from, _run_id, _source, _line_no,
                            _won, _opens, _closes)
select _key, version, _delete, _record_no, _old_valid_from, _run_id, _source, _line_no, _won, _opens, _closes
  from history_fold;
