-- Version history (a feed with history = 'on'; docs/feeds.md, Version history), before
-- the feed's history section: the versions this run received, the keys whose windows
-- they change and from which version on, and the fold that turns a key's versions into
-- windows (views over history_rank, which the history section fills).
--
-- The rule: whatever order versions arrive in, the history equals loading every received
-- version one at a time in version order. A version is received when a run considers it:
-- a record neither rejected nor skipped (superseded and stale ones too). Of a key's
-- records at one version, the last in the batch's order counts (a later delivery, then a
-- later line), as it would in the target; one at a version received before replaces it
-- only as a later delivery's correction with other values (corrections = 'apply').
-- A window opens at a version whose values differ from the version before it (or that
-- follows a deletion, or none), and lasts until the next window opens or a deletion
-- closes it: equal versions sent again and again make no new rows.
-- The feed's history section ranks the values (history_rank); the loader folds them right
-- after (version_history_folded.sql); the section then writes history_window's windows.
-- Reads: run_batch, received_version, run_file. Writes: temp tables only.

-- one received version per key and version
drop table if exists history_candidate;
create temp table history_candidate as
select _key, _ts as version, coalesce(_delivery, 0) as delivery, _record_no, _line_no, _delete
  from (select _key, _ts, _delivery, _record_no, _line_no, _delete,
               -- (no delivery: the earliest, on both engines: PostgreSQL's desc would put NULL first)
               row_number() over (partition by _key, _ts order by coalesce(_delivery, 0) desc, _record_no desc) as n
          from run_batch
         where _outcome not in ('rejected', 'skipped')) as received
 where n = 1;
-- (looked up by key and version, and by record, below and in the fold)
create index history_candidate_key on history_candidate (_key, version);
create index history_candidate_record on history_candidate (_record_no);
-- (and run_batch by record, where a key's columns are read back: the history section's joins)
create index run_batch_by_record_no on run_batch (_record_no);

-- the keys whose windows may change: each has a version new to it, or one that a later
-- delivery may correct; _from is the oldest such, _after the key's version before it
-- (the window covering that one is where the fold starts). _record_no: a record of
-- the key, for the history section to find its rows by the key's columns.
drop table if exists history_key;
create temp table history_key as
select changed._key, changed._from, changed._record_no,
       (select max(known.version) from received_version as known
         where known.feed = :feed and known.key = changed._key and known.version < changed._from) as _after,
       case when :corrections = 'apply' then 1 else 0 end as _apply,
       cast(null as text) as _start   -- (version_history_folded.sql: once history_rank is filled)
  from (select candidate._key, min(candidate.version) as _from, min(candidate._record_no) as _record_no
          from history_candidate as candidate
         where not exists (select 1 from received_version as known
                            where known.feed = :feed
                              and known.key = candidate._key
                              and known.version = candidate.version
                              and (:corrections <> 'apply' or known.delivery_id >= candidate.delivery))
         group by candidate._key) as changed;

-- the versions received before of those keys, from _after on (views take no parameters)
drop table if exists history_known;
create temp table history_known as
select known.key as _key, known.version, known.delivery_id, known.run_id, known.line_no, known.deleted
  from history_key as changed
 cross join received_version as known   -- (SQLite: history_key first, else it is scanned per version)
 where known.feed = :feed
   and known.key = changed._key
   and known.version >= coalesce(changed._after, changed._from);
create index history_known_key on history_known (_key, version);
create index history_key_key on history_key (_key);

-- Filled by the feed's history section: the values of the changed keys' versions, each
-- row either one of this run's (_record_no) or a window <target>_history holds of the
-- key from the one covering _after on (_valid_from; with its valid_to and provenance),
-- and _values, equal for equal values: dense_rank() over (partition by _key order by
-- the compared columns). (ORDER BY puts equal values together, NULLs with NULLs: what
-- IS NOT DISTINCT FROM calls equal.)
drop table if exists history_rank;
create temp table history_rank (
    _key         text not null,
    _record_no   integer,
    _valid_from  text,
    _valid_to    text,
    _run_id      integer,
    _source      text,
    _line_no     integer,
    _values      integer not null
);
-- (the fold looks its rows up by key and version, and by record: without these, each look-up
-- scans the table, and a batch of a million takes days)
create index history_rank_key on history_rank (_key, _valid_from);
create index history_rank_record on history_rank (_record_no);

-- Where each changed key's fold starts (_start, which version_history_folded.sql sets
-- once history_rank is filled): at the window that covers its version before _from (that
-- window's first version), else at _from (nothing before it, or a deletion).
drop view if exists history_window;
drop view if exists history_fold;
drop view if exists history_entry;
drop view if exists history_start;
create temp view history_start as
select _key, _from, _record_no, _apply, _start
  from history_key;

-- Each version of a changed key from _start on: one received before (history_known, or
-- the first version of a window held, which a history started from the target's rows
-- has no row for), this run's, or both; _won: this run's replaces it. A version of a
-- window keeps that window's values (_old_valid_from), and its own provenance.
create temp view history_entry as
select _key, version,
       case when _won = 1 then _new_delete else _old_delete end as _delete,
       case when _won = 1 then _new_values else _old_values end as _values,
       case when _won = 1 then _new_record_no end as _record_no,
       case when _won = 0 then _cover end as _old_valid_from,
       case when _won = 0 then _old_run_id end as _run_id,
       case when _won = 0 then _old_line_no end as _line_no,
       case when _won = 0 then _old_source end as _source,
       _won
  from (select versions.*,
               case when _new_record_no is null then 0
                    when _old_delete is null then 1
                    when _apply = 1 and _new_delivery > _old_delivery
                         and (_new_delete <> _old_delete
                              or (_new_delete = 0 and _new_values <> _old_values)) then 1
                    else 0 end as _won
          from (select v._key, v.version, s._apply,
                       candidate._record_no as _new_record_no, candidate._delete as _new_delete,
                       candidate.delivery as _new_delivery, new_rank._values as _new_values,
                       coalesce(known.deleted, case when opener._key is not null then 0 end) as _old_delete,
                       coalesce(known.delivery_id,
                                (select delivery_id from run_file
                                  where run_file.run_id = opener._run_id and run_file.source = opener._source),
                                0) as _old_delivery,
                       coalesce(known.run_id, opener._run_id) as _old_run_id,
                       coalesce(known.line_no, opener._line_no) as _old_line_no,
                       -- (the file of its run and delivery; else, a version received before
                       -- deliveries were kept, the window's)
                       case when known._key is null then opener._source
                            else coalesce((select min(source) from run_file
                                            where run_file.run_id = known.run_id
                                              and run_file.delivery_id = known.delivery_id), cover._source)
                       end as _old_source,
                       cover._valid_from as _cover, cover._values as _old_values
                  from (select _key, version from history_known
                        union
                        select _key, _valid_from from history_rank where _valid_from is not null
                        union
                        select candidate._key, candidate.version
                          from history_candidate as candidate
                          join history_key as changed on changed._key = candidate._key) as v
                  join history_start as s on s._key = v._key
                  left join history_candidate as candidate on candidate._key = v._key
                                                          and candidate.version = v.version
                  left join history_rank as new_rank on new_rank._record_no = candidate._record_no
                  left join history_known as known on known._key = v._key and known.version = v.version
                  left join history_rank as opener on opener._key = v._key and opener._valid_from = v.version
                  left join history_rank as cover
                         on cover._key = v._key
                        and cover._valid_from = (select max(old._valid_from) from history_rank as old
                                                  where old._key = v._key and old._valid_from <= v.version)
                 where v.version >= s._start) as versions) as decided;

-- The fold: a version opens a window when its values differ from the version before it,
-- or a deletion (or nothing: the first) came before; a deletion closes the window open.
create temp view history_fold as
select entry.*,
       case when _delete = 1 then 0
            when _before_delete is null or _before_delete = 1 or _before_values <> _values then 1
            else 0 end as _opens,
       case when _delete = 1 and _before_delete = 0 then 1 else 0 end as _closes
  from (select history_entry.*,
               lag(_delete) over (partition by _key order by version) as _before_delete,
               lag(_values) over (partition by _key order by version) as _before_values
          from history_entry) as entry;

-- The fold, once, right after the history section has ranked the values
-- (version_history_folded.sql fills it: the loader runs it after the section's
-- insert into history_rank).
drop table if exists history_folded;
create temp table history_folded (
    _key            text not null,
    version         text not null,
    _delete         integer not null,
    _record_no      integer,        -- this run's record that gives its values, if it won
    _old_valid_from text,           -- else the window held whose values it has
    _run_id         integer,        -- and its own provenance
    _source         text,
    _line_no        integer,
    _won            integer not null,
    _opens          integer not null,
    _closes         integer not null
);
create index history_folded_key on history_folded (_key, version);
create index history_folded_record on history_folded (_record_no);

-- The changed keys' windows from _start on: each from the version that opens it to the
-- next that opens or closes one. Its values come from this run's record (_record_no)
-- or from the window held that the version was part of (_old_valid_from); its
-- timestamp and provenance are the opening version's.
create temp view history_window as
select _key, version as valid_from, valid_to, _record_no, _old_valid_from,
       _run_id, _source, _line_no
  from (select history_folded.*,
               lead(version) over (partition by _key order by version) as valid_to
          from history_folded
         where _opens = 1 or _closes = 1) as bounds
 where _opens = 1;
