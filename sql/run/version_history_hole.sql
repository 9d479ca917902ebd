-- A version history that the feed has loaded past without keeping (history was off, or
-- it was kept by no run): it has a hole, and is never extended (version_history.py).
select last_run_id, history_through
  from feeds
 where feed = :feed
   and (history_through is null or history_through < last_run_id);
