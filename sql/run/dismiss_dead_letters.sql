-- python runner.py --dismiss-dead-letters ID [ID ...] --reason TEXT: the dead
-- letters named (chosen_dead_letter, each checked to be an open dead letter of
-- the feed: run/chosen_dead_letters.sql) are closed for good: status
-- 'dismissed', when (the run's clock) and why. No replay sends them again
-- (run/replay_source.sql reads open ones), --prune-history never removes them
-- (it removes resolved ones), and a rerun of their file files them not again
-- (stage 06 matches them by received_raw); the view closed_dead_letters lists
-- them with the resolved ones. One transaction under the run lock.
update dead_letter
   set status = 'dismissed',
       dismissed_at = :now,
       dismiss_reason = cast(:reason as text)
 where dead_letter_id in (select dead_letter_id from chosen_dead_letter)
   and feed = :feed
   and status = 'open';
