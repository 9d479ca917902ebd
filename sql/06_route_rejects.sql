-- Keeps every rejected record, raw text and reason, in dead_letter.
-- A reject already on file (same source, line and raw text: a rerun of the
-- same file) is not written twice; its row notes the latest run instead.
-- Reads: run_batch. Writes: dead_letter.

update dead_letter
   set last_run_id = :run_id,
       reason = b.reason
  from run_batch as b
 where b.outcome = 'rejected'
   and b.source = dead_letter.source
   and b.line_no = dead_letter.line_no
   and b.raw = dead_letter.raw;

-- ids: after the largest so far, in input order (gaps are harmless)
insert into dead_letter (dead_letter_id, run_id, last_run_id, source, line_no, raw, reason)
select (select coalesce(max(dead_letter_id), 0) from dead_letter) + b.record_no,
       :run_id, :run_id, b.source, b.line_no, b.raw, b.reason
  from run_batch b
 where b.outcome = 'rejected'
   and not exists (select 1 from dead_letter d
                    where d.source = b.source
                      and d.line_no = b.line_no
                      and d.raw = b.raw);
