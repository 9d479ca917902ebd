-- PostgreSQL's version of run/reuse_space.sql, run after --prune-history
-- commits, outside any transaction: a deleted row's space is reused only once
-- VACUUM has seen that no transaction can still read the row. The server's
-- autovacuum would get there in its own time; a plain VACUUM does it now. It
-- takes no lock that stops loads or readers.
vacuum (analyze) lineage_record, lineage_rejected, lineage_source, lineage_before_v3, dead_letter;
