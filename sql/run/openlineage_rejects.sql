-- This run's rejects counted by the rule that rejected them, for the
-- data-quality assertions of its OpenLineage COMPLETE event: the rules every
-- feed has (the record can be read; stage 05's key and timestamp rules), and
-- each of the feed's own rules (its definition's _invalid), known by the
-- reason's text before the value it quotes. Reads only.
-- (openlineage_rejects.postgresql.sql: the same, with strpos for instr.)
select rule, description, count(*) as rejected
  from (select case
                   when reason like 'has %' or reason like 'is %' or reason like 'contains %'
                     or reason like 'cannot %' then 'readable'
                   when reason = replace(:key_columns, ', ', ' or ') || ' is missing' then 'key present'
                   when reason = :timestamp_column || ' is missing' then 'timestamp present'
                   when reason like :timestamp_column || ' is not a valid timestamp: %' then 'timestamp valid'
                   when reason like :timestamp_column || ' is in the future: %' then 'timestamp not in the future'
                   else 'feed rule'
               end as rule,
               case when instr(reason, ': ') > 0 then substr(reason, 1, instr(reason, ': ') - 1)
                    else reason end as description
          from lineage_rejected
         where run_id = :run_id) as rejects
 group by rule, description
 order by rule, description;
