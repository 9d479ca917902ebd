-- The version history just started (after the target section, which created it and
-- filled it from the target's rows): it is kept through the feed's last run, if any.
update feeds set history_through = last_run_id where feed = :feed;
select last_run_id as through_run from feeds where feed = :feed;
