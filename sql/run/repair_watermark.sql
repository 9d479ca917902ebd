-- python runner.py --repair-watermark: puts back the watermark the feed's last
-- successful run left in run_log or, with no such run, the newest timestamp
-- lineage says was loaded for the feed (with neither, removes it: the next run
-- starts from scratch). Its own transaction; the last statement's row is
-- printed as JSON.
drop table if exists watermark_repair;
create temp table watermark_repair as
select (select value from watermark where feed = :feed) as watermark_before,
       (select watermark_after from run_log
         where feed = :feed and status = 'succeeded' and watermark_after is not null
         order by run_id desc limit 1) as from_run_log,
       (select max(event_ts) from lineage where feed = :feed and step = 'loaded') as from_lineage;

delete from watermark where feed = :feed;

insert into watermark (feed, value, run_id, updated_at)
select :feed, coalesce(from_run_log, from_lineage), null, :now
  from watermark_repair
 where coalesce(from_run_log, from_lineage) is not null;

select watermark_before,
       coalesce(from_run_log, from_lineage) as watermark,
       case when from_run_log is not null then 'the last successful run in run_log'
            when from_lineage is not null then 'the newest record lineage says was loaded'
            else 'nothing (no successful run, nothing loaded): the watermark was removed'
       end as restored_from
  from watermark_repair;
