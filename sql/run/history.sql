-- Every run, oldest first, whatever its status (for --runs and --output):
-- of one feed, or of every feed when :only_feed is NULL.
select * from run_log
 where cast(:only_feed as text) is null or feed = cast(:only_feed as text)
 order by run_id;
