-- Which of the loader's bookkeeping tables the database has: how the runner
-- tells a new database (none), one written before schema versions were recorded
-- (run_log only: version 1) and a versioned one (schema_version). Reads only.
select name
  from sqlite_master
 where type = 'table'
   and name in ('schema_version', 'run_log');
