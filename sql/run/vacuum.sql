-- --prune-history AGE --vacuum, after the prune commits: give the free space
-- back to the file system. VACUUM rewrites the whole file (it needs as much
-- free disk again, and runs outside any transaction; a load waits for it);
-- the checkpoint then truncates the write-ahead log VACUUM wrote through.
vacuum;
pragma wal_checkpoint(truncate);
