-- python runner.py --replay-dead-letters: the feed's open dead letters, oldest first,
-- with the format and header of the run that rejected them, so their raw text
-- can be parsed again and sent through the stages like a new batch. Read a
-- chunk at a time (a server-side cursor on PostgreSQL), however many there are.
-- A record whose bytes were not UTF-8 or held a NUL was stored escaped: its
-- raw text is not the record any more, so it comes back with its problem.
select dead_letter.source, dead_letter.line_no, dead_letter.raw, run_log.header, run_log.format,
       case when dead_letter.reason like 'is not valid UTF-8%'
              or dead_letter.reason like 'contains a NUL byte%'
            then dead_letter.reason || ' (fix the file and load it again)'
       end as problem
  from dead_letter
  join run_log on run_log.run_id = dead_letter.run_id
 where dead_letter.status = 'open'
   and dead_letter.feed = :feed
 order by dead_letter.dead_letter_id;
