-- PostgreSQL's version of run/database_size.sql: the database's size on disk.
-- How much of it new rows can reuse is not counted (PostgreSQL would need the
-- pgstattuple extension): NULL. Reads only.
select pg_database_size(current_database()) as bytes,
       cast(null as bigint) as reusable_bytes;
