-- python runner.py --replay-dead-letters: the feed's open dead letters, oldest first,
-- with the format and header of the run that rejected them, so their raw text
-- can be parsed again and sent through the stages like a new batch. Read a
-- chunk at a time (a server-side cursor on PostgreSQL), however many there are.
-- With --from PATH, only those PATH names (chosen_dead_letter, which the runner
-- fills, and whose edited text run/edit_dead_letters.sql put in raw first);
-- without, chosen_dead_letter is empty and every open one is sent. A dismissed
-- dead letter is never sent: it is not open.
-- A record whose bytes were not UTF-8 or held a NUL was stored escaped: while
-- its raw text is that (not edited since: received_raw), it is not the record
-- any more, so it comes back with its problem.
select dead_letter.source, dead_letter.line_no, dead_letter.raw, run_log.header, run_log.format,
       case when (dead_letter.reason like 'is not valid UTF-8%'
                  or dead_letter.reason like 'contains a NUL byte%')
             and dead_letter.raw = coalesce(dead_letter.received_raw, dead_letter.raw)
            then dead_letter.reason || ' (fix the file and load it again)'
       end as problem
  from dead_letter
  join run_log on run_log.run_id = dead_letter.run_id
 where dead_letter.status = 'open'
   and dead_letter.feed = :feed
   and (not exists (select 1 from chosen_dead_letter)
        or dead_letter.dead_letter_id in (select dead_letter_id from chosen_dead_letter))
 order by dead_letter.dead_letter_id;
