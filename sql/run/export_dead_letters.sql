-- python runner.py --export-dead-letters PATH: the feed's open dead letters,
-- oldest first, each written as a line of JSON (these columns, in this order)
-- to fix in a file and replay from it (--replay-dead-letters --from PATH).
-- Reads only, outside any transaction: one statement sees one state.
select dead_letter_id, source, line_no, reason, raw
  from dead_letter
 where status = 'open'
   and feed = :feed
 order by dead_letter_id;
