-- A feed's version history starts afresh (its <target>_history does not exist: never
-- kept, or dropped to start again): what an earlier one kept goes. Before the target
-- section, in the opening transaction.
update feeds set history_through = null where feed = :feed;
delete from received_version where feed = :feed;
