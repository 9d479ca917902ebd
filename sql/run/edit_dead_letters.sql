-- python runner.py --replay-dead-letters --from PATH: each dead letter PATH
-- names (chosen_dead_letter) gets the text edited there as its raw, inside the
-- replay's transaction, which then sends it through the stages: a record that
-- now passes is resolved; one that still fails stays open, with the edited
-- text and its new reason (received_raw, the text as first rejected, stays:
-- a rerun of the original file still recognises it). Rolled back with the
-- replay (a failure, a stop, a dry run). Each was checked to be an open dead
-- letter of the feed at the line's source and line (run/chosen_dead_letters.sql).
update dead_letter
   set raw = c.raw
  from chosen_dead_letter as c
 where dead_letter.dead_letter_id = c.dead_letter_id
   and dead_letter.feed = :feed
   and dead_letter.status = 'open'
   and dead_letter.source = c.source
   and dead_letter.line_no = c.line_no;
