-- The dead letters a command names (chosen_dead_letter) that are not an open
-- dead letter of the feed as named, each with what it is instead, for the
-- refusal to say: no such id (or one --prune-history removed), another
-- feed's, resolved, dismissed already; for --from, one whose source or line
-- differs from the line's. No row: every one is. Reads only.
select c.place,
       c.dead_letter_id,
       d.feed,
       d.status,
       d.resolved_by_run,
       d.dismissed_at,
       d.dismiss_reason,
       d.source,
       d.line_no,
       c.source as given_source,
       c.line_no as given_line_no,
       p.resolved_by_run as pruned_resolved_by_run
  from chosen_dead_letter as c
  left join dead_letter as d on d.dead_letter_id = c.dead_letter_id
  left join dead_letter_pruned as p on p.dead_letter_id = c.dead_letter_id
 where d.dead_letter_id is null
    or d.feed <> :feed
    or d.status <> 'open'
    or d.source <> c.source
    or d.line_no <> c.line_no
 order by c.place;
