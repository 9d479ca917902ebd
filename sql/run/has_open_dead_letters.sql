-- Whether the feed has an open dead letter: a replay with none is no run.
-- One row at most, however many there are. Reads only.
select 1
  from dead_letter
 where status = 'open'
   and feed = :feed
 limit 1;
