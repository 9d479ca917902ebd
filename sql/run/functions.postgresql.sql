-- PostgreSQL's version of run/functions.sql: key_text(a, b, ...), a key of
-- several columns as text: the same JSON array, byte for byte, as SQLite's
-- (compact, no spaces: array_to_json, not json_build_array). It lives in the
-- schema beside the loader's tables: a temporary function cannot be called by
-- its bare name. Created once; replaced only if missing.
do $$
begin
    if to_regprocedure('key_text(text[])') is null then
        create function key_text(variadic parts text[]) returns text
        language sql immutable parallel safe as
        'select case when array_position(parts, null) is not null then null
                     when cardinality(parts) = 1 then parts[1]
                     else array_to_json(parts)::text end';
    end if;
end
$$;
