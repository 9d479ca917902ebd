-- The run through which the feed's version history was last kept, if any run kept it
-- (version_history.py: a table no run has kept, and empty, starts afresh).
select history_through
  from feeds
 where feed = :feed
   and history_through is not null;
