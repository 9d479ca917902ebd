-- Records the version a new or upgraded database now has, in the transaction
-- that created or upgraded it.
insert into schema_version (version, applied_at, description)
select :schema_version, :now, :description
 where not exists (select 1 from schema_version where version = :schema_version);
