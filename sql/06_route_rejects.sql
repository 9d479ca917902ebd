-- Keeps every rejected record, raw text and reason, in dead_letter, once.
-- A reject already on file for this feed is not written again: one at the
-- same source and line with the same text as first rejected (received_raw: a
-- rerun of the same file, even after its dead letter was fixed and resolved,
-- or after --prune-history removed that one, which left its key in
-- dead_letter_pruned), or with an open dead letter's text as fixed (raw: what
-- a replay sends). An open one's reason is brought up to date; a resolved one
-- stays resolved (its record was fixed and loaded; this run counts the reject
-- as repeated). A dead letter whose record now passes validation is resolved,
-- not deleted: the run that resolved it is recorded.
-- Reads: run_batch, landing (the raw text, by _record_no), dead_letter_pruned.
-- Writes: dead_letter.

-- (update ... from run_batch: walks the batch and probes dead_letter by its
-- (source, line_no) index, instead of scanning the batch per dead letter)
update dead_letter
   set reason = b._reason
  from run_batch as b
  join landing on landing._record_no = b._record_no
 where b._outcome = 'rejected'
   and b._source = dead_letter.source
   and b._line_no = dead_letter.line_no
   and landing._raw in (dead_letter.raw, dead_letter.received_raw)
   and dead_letter.feed = :feed
   and dead_letter.status = 'open'
   and dead_letter.reason <> b._reason;

-- (the raw text is looked up only for a record at an open dead letter's
-- position: most records are at none. Positions are probed in input order,
-- the order dead letters were filed in, and those found updated in id order:
-- dead_letter's index and pages are walked in turn, not at random. For a
-- replay of 1,000,000: 4.6 -> 2.9 s; a rerun of a million beside 20,000 open
-- dead letters: 2.8 -> 1.1 s. With none open, the batch is not even read (the
-- exists is tested once); nor, by the in list, are the records of a file with
-- none open sorted: a new file's, beside older files' open ones: 1.2 -> 0.5 s.)
update dead_letter
   set status = 'resolved',
       resolved_by_run = :run_id
  from (select d.dead_letter_id
          from (select _source, _line_no, _record_no
                  from run_batch
                 where _outcome <> 'rejected'
                   and exists (select 1 from dead_letter where status = 'open' and feed = :feed)
                   and _source in (select source from dead_letter where status = 'open' and feed = :feed)
                 order by _record_no) as b
          join dead_letter as d on d.source = b._source and d.line_no = b._line_no
         where d.status = 'open'
           and d.feed = :feed
           and (select _raw from landing where landing._record_no = b._record_no) in (d.raw, d.received_raw)
         order by d.dead_letter_id) as passed
 where dead_letter.dead_letter_id = passed.dead_letter_id;

-- ids: after the largest so far (a pruned one's too: id_high_water), in input
-- order (gaps are harmless)
insert into dead_letter (dead_letter_id, feed, run_id, source, line_no, raw, reason, received_raw)
select (select coalesce(max(id), 0)
          from (select max(dead_letter_id) as id from dead_letter
                union all
                select value from id_high_water where name = 'dead_letter') as ids) + b._record_no,
       :feed, :run_id, b._source, b._line_no, landing._raw, b._reason, landing._raw
  from run_batch b
  join landing on landing._record_no = b._record_no
 where b._outcome = 'rejected'
   and not exists (select 1 from dead_letter d
                    where d.source = b._source
                      and d.line_no = b._line_no
                      and (d.received_raw = landing._raw or (d.status = 'open' and d.raw = landing._raw))
                      and d.feed = :feed)
   and not exists (select 1 from dead_letter_pruned p
                    where p.source = b._source
                      and p.line_no = b._line_no
                      and p.received_raw = landing._raw
                      and p.feed = :feed);
