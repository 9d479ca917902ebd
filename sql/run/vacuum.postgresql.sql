-- PostgreSQL's version of run/vacuum.sql: VACUUM FULL rewrites the tables a
-- prune shrinks into new files and gives the old ones back to the file
-- system. It holds an exclusive lock on each table while it does (loads and
-- reads of it wait), and needs as much free disk again as the table's rows.
vacuum (full, analyze) lineage_record, lineage_rejected, lineage_source, lineage_before_v3, dead_letter;
