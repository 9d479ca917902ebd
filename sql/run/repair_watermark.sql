-- python runner.py --repair-watermark: puts back the watermark the last
-- successful run left in run_log or, with no such run, the newest event_ts in
-- events (with neither, removes it: the next run starts from scratch).
-- Its own transaction; the last statement's row is printed as JSON.
drop table if exists watermark_repair;
create temp table watermark_repair as
select (select value from watermark where target = 'events') as watermark_before,
       (select watermark_after from run_log
         where status = 'succeeded' and watermark_after is not null
         order by run_id desc limit 1) as from_run_log,
       (select max(event_ts) from events) as from_events;

delete from watermark where target = 'events';

insert into watermark (target, value, run_id, updated_at)
select 'events', coalesce(from_run_log, from_events), null, :now
  from watermark_repair
 where coalesce(from_run_log, from_events) is not null;

select watermark_before,
       coalesce(from_run_log, from_events) as watermark,
       case when from_run_log is not null then 'the last successful run in run_log'
            when from_events is not null then 'the newest event_ts in events'
            else 'nothing (no successful run, no events): the watermark was removed'
       end as restored_from
  from watermark_repair;
