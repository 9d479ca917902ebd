-- PostgreSQL's version of run/schema_tables.sql: the tables in the schema the
-- loader creates its tables in (the first of the search_path). Reads only.
select table_name
  from information_schema.tables
 where table_schema = current_schema()
   and table_name in ('schema_version', 'run_log');
