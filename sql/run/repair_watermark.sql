-- python runner.py --repair-watermark: puts back the watermark the feed's last
-- successful run left in run_log or, with no such run, the newest timestamp
-- lineage says was loaded for the feed (with neither, removes it: the next run
-- starts from scratch).
-- A value in the future (later than the run's clock + 5 minutes, which stage 04
-- refuses: a run whose clock was pinned ahead with --now can leave one) is passed
-- over: the newest watermark of a successful run that is not in the future is put
-- back instead (with none, lineage's newest loaded timestamp that is not). The
-- feed's records in the future that lineage says were loaded are counted, with the
-- runs that loaded them and a query that lists them in the target; nothing is
-- deleted. Its own transaction; the last statement's row is printed as JSON.
-- repair_watermark.postgresql.sql is PostgreSQL's version: it differs only in how
-- it adds the 5 minutes and lists the runs. Keep the two in step (and the 5
-- minutes with stage 03's).
drop table if exists watermark_repair;
create temp table watermark_repair as
select (select value from watermark where feed = :feed) as watermark_before,
       strftime('%Y-%m-%dT%H:%M:%S', :now, '+5 minutes') as future_limit,
       (select watermark_after from run_log
         where feed = :feed and status = 'succeeded' and watermark_after is not null
         order by run_id desc limit 1) as from_run_log,
       cast(null as integer) as from_run,
       cast(null as text) as from_lineage,
       cast(null as text) as passed_over;

-- the last successful run's watermark is in the future: the newest one that is not
update watermark_repair
   set passed_over = from_run_log,
       from_run = (select run_id from run_log
                    where feed = :feed and status = 'succeeded' and watermark_after is not null
                      and watermark_after <= watermark_repair.future_limit
                    order by run_id desc limit 1)
 where from_run_log > future_limit;
update watermark_repair
   set from_run_log = (select watermark_after from run_log where run_id = watermark_repair.from_run)
 where passed_over is not null;

-- no successful run to restore from: lineage's newest loaded (or deleted: 11) timestamp, if not in the future
update watermark_repair
   set from_lineage = (select max(event_ts) from lineage
                        where feed = :feed and step in ('loaded', 'deleted') and event_ts <= watermark_repair.future_limit),
       passed_over = coalesce(passed_over,
                              (select max(event_ts) from lineage
                                where feed = :feed and step in ('loaded', 'deleted') and event_ts > watermark_repair.future_limit))
 where from_run_log is null;

-- the keys lineage says were loaded with a timestamp in the future, and by which runs
drop table if exists future_loaded;
create temp table future_loaded as
select distinct run_id, event_id as future_key
  from lineage
 where feed = :feed and step = 'loaded'
   and event_ts > (select future_limit from watermark_repair);

delete from watermark where feed = :feed;

insert into watermark (feed, value, run_id, updated_at)
select :feed, coalesce(from_run_log, from_lineage), null, :now
  from watermark_repair
 where coalesce(from_run_log, from_lineage) is not null;

select watermark_before,
       coalesce(from_run_log, from_lineage) as watermark,
       case when from_run_log is not null and passed_over is null then 'the last successful run in run_log'
            when from_run_log is not null
                then 'run ' || from_run || ', the last successful run whose watermark is not in the future'
            when from_lineage is not null and passed_over is null then 'the newest record lineage says was loaded'
            when from_lineage is not null
                then 'the newest record lineage says was loaded that is not in the future'
            when passed_over is not null
                then 'nothing (no successful run and no loaded record that is not in the future): '
                     || 'the watermark was removed'
            else 'nothing (no successful run, nothing loaded): the watermark was removed'
       end as restored_from,
       passed_over as future_watermark,
       future_limit,
       (select count(distinct future_key) from future_loaded) as future_rows,
       (select group_concat(run_id, ', ')
          from (select distinct run_id from future_loaded order by run_id)) as future_rows_loaded_by_runs,
       case when exists (select 1 from future_loaded)
            then 'select * from ' || :target || ' where ' || :timestamp_column || ' > ''' || future_limit
                 || ''' order by ' || :timestamp_column
       end as future_rows_query
  from watermark_repair;
