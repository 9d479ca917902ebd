-- python runner.py --trace KEY: the key's tombstone, if a deletion took it out (or, with
-- deletes = 'soft', marked its row): the deletion's version, run, file and line.
select version, run_id, source, line_no
  from tombstone
 where feed = :feed
   and key = :key;
