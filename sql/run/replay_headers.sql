-- python runner.py --replay-dead-letters: the headers of the runs that rejected
-- the feed's open dead letters (with --from PATH, those PATH names:
-- chosen_dead_letter, as in run/replay_source.sql), each once, in the order of
-- its first dead letter. A replay lands their columns together (each record
-- parsed with its own run's header, run/replay_source.sql). Reads only.
select run_log.header
  from dead_letter
  join run_log on run_log.run_id = dead_letter.run_id
 where dead_letter.status = 'open'
   and dead_letter.feed = :feed
   and (not exists (select 1 from chosen_dead_letter)
        or dead_letter.dead_letter_id in (select dead_letter_id from chosen_dead_letter))
 group by run_log.header
 order by min(dead_letter.dead_letter_id);
