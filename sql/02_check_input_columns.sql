-- Refuses a batch whose header lacks a column the later stages read, so the
-- user reads "the input has no column X" instead of a SQL error.
-- Reads: landing_columns (the input's header, landed by the runner).
-- Writes: run_refusal.
insert into run_refusal (reason)
select 'the input has no column "' || required.name
       || '"; its header must name event_id, event_ts, user_id and amount'
  from (select 'event_id' as name
        union all select 'event_ts'
        union all select 'user_id'
        union all select 'amount') as required
 where not exists (select 1 from landing_columns where landing_columns.name = required.name);
