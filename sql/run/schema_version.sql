-- The database's schema version (run/schema_tables.sql found the table).
select max(version) from schema_version;
