-- The dead letters named (chosen_dead_letter) that --dismiss-dead-letters
-- dismissed on this clock with this reason: what it reports, read in its
-- transaction; and, after a stop that landed during its COMMIT, read back
-- under the run lock to tell whether the dismissal was kept. Reads only.
select dead_letter_id, source, line_no, reason
  from dead_letter
 where dead_letter_id in (select dead_letter_id from chosen_dead_letter)
   and feed = :feed
   and status = 'dismissed'
   and dismissed_at = :now
   and dismiss_reason = cast(:reason as text)
 order by dead_letter_id;
