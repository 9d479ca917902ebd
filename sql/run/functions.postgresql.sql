-- PostgreSQL's version of run/functions.sql: the functions feed definitions call, in the
-- schema beside the loader's tables (a temporary function cannot be called by its bare name).
--
--   key_text(a, b, ...)             a key of several columns as text: the same JSON array, byte
--                                   for byte, as SQLite's (compact, no spaces: array_to_json,
--                                   not json_build_array)
--   typed_integer(value)            the typing helpers (docs/helpers.md): the same results as
--   typed_decimal(value, max_digits)  SQLite's, loader/typed_values.py, whatever the session's
--   typed_timestamp(value, form)      DateStyle, TimeZone or lc_time
--   typed_is_timestamp(value, form)   (1 when form reads value, else 0)
--
-- typed_timestamp is SQL, inlined where it is called: typed_timestamp_form(form) makes a form's
-- regular expression and positions (and raises for an unknown form), typed_timestamp_read(value,
-- form) reads a value by them. With a constant form, as in a feed definition, the planner calls
-- typed_timestamp_form once per statement, not once per record. typed_integer and typed_decimal
-- are single SQL expressions, inlined too.
--
-- Each helper is created when it is missing and replaced when its definition (body, arguments,
-- result, language) differs from the one below: a database of an earlier release, or one made
-- before a helper changed, gets the new one on its next run or --upgrade. A run that finds the
-- current definitions changes nothing. (This runs in the opening transaction, holding the run
-- lock: two runs never replace a helper at the same moment.) key_text is this file's first
-- definition, unchanged.
do $helpers$
declare
    helper record;
    found oid;
    statement text;
begin
    for helper in
        select *
          from (values
('key_text', 'text[]', 'VARIADIC parts text[]', 'text', 'sql',
'select case when array_position(parts, null) is not null then null
                     when cardinality(parts) = 1 then parts[1]
                     else array_to_json(parts)::text end'),

-- an optional sign and digits, at most 18 after any leading zeros: a bigint
('typed_integer', 'text', 'value text', 'text', 'sql', $body$
select case when value ~ '^ *[+-]?0*[0-9]{1,18} *$' then cast(cast(value as bigint) as text) end
$body$),

-- an optional sign and digits with at most one '.'; at most max_digits digits as written. The
-- canonical text is numeric's, scale trimmed; a value too long for numeric (16,383 digits after
-- the point) is made the same by hand
('typed_decimal', 'text, integer', 'value text, max_digits integer', 'text', 'sql', $body$
select case when value ~ '^ *[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+) *$'
             and (max_digits is null or length(translate(value, ' +-.', '')) <= max_digits)
            then case when length(value) <= 16000
                      then cast(trim_scale(cast(value as numeric)) as text)
                      when ltrim(translate(value, ' +-.', ''), '0') = '' then '0'
                      else case when strpos(value, '-') > 0 then '-' else '' end
                           || coalesce(nullif(ltrim(split_part(btrim(value, ' +-'), '.', 1), '0'), ''), '0')
                           || case when rtrim(split_part(btrim(value, ' +-'), '.', 2), '0') <> ''
                                   then '.' || rtrim(split_part(btrim(value, ' +-'), '.', 2), '0')
                                   else '' end
                 end
       end
$body$),

-- A form as typed_timestamp_read takes it: {iso8601}, {date}, {unix_seconds}, or for a pattern
-- {split or pattern, its regular expression, its literal characters, and for each directive
-- Y y m b B d H I p M S z where the value has it (0: nowhere)}. The expression is the one
-- loader/typed_values.py's compile_pattern makes; its groups would find each directive, but
-- PostgreSQL captures groups slowly (a few microseconds each), so where the pattern allows, a
-- value is only checked against it (quick) and then split at the literal characters: 'split',
-- each directive a piece at a known place (a %z at the end is cut off first). That needs no two
-- directives side by side, no digit among the literal characters, and no letter where a
-- directive reads letters (%b, %B, %p); otherwise 'pattern': each directive is its group.
('typed_timestamp_form', 'text', 'form text', 'text[]', 'plpgsql', $body$
declare
    letters constant text := 'YymbBdHIpMSz';
    fields constant text[] := array['year', 'year', 'month', 'month', 'month', 'day', 'hour', 'hour',
                                    'AM or PM', 'minute', 'second', 'offset'];
    parts constant text[] := array[
        '([0-9]{4})', '([0-9]{2})', '([0-9]{1,2})',
        '([Jj][Aa][Nn]|[Ff][Ee][Bb]|[Mm][Aa][Rr]|[Aa][Pp][Rr]|[Mm][Aa][Yy]|[Jj][Uu][Nn]|'
        || '[Jj][Uu][Ll]|[Aa][Uu][Gg]|[Ss][Ee][Pp]|[Oo][Cc][Tt]|[Nn][Oo][Vv]|[Dd][Ee][Cc])',
        '([Jj][Aa][Nn][Uu][Aa][Rr][Yy]|[Ff][Ee][Bb][Rr][Uu][Aa][Rr][Yy]|[Mm][Aa][Rr][Cc][Hh]|'
        || '[Aa][Pp][Rr][Ii][Ll]|[Mm][Aa][Yy]|[Jj][Uu][Nn][Ee]|[Jj][Uu][Ll][Yy]|'
        || '[Aa][Uu][Gg][Uu][Ss][Tt]|[Ss][Ee][Pp][Tt][Ee][Mm][Bb][Ee][Rr]|[Oo][Cc][Tt][Oo][Bb][Ee][Rr]|'
        || '[Nn][Oo][Vv][Ee][Mm][Bb][Ee][Rr]|[Dd][Ee][Cc][Ee][Mm][Bb][Ee][Rr])',
        '([0-9]{1,2})', '([0-9]{1,2})', '([0-9]{1,2})', '([AaPp][Mm])', '([0-9]{2})', '([0-9]{2})',
        '(Z|[+-][0-9]{2}:?[0-9]{2})'];
    special constant text := '[].^$*+?(){}|' || chr(92);  -- escaped with a backslash
    groups int[] := array[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];  -- each directive's group
    pieces int[] := array[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];  -- its piece when split (-1: cut off)
    regex text := '';
    literals text := '';
    splits boolean := true;
    literal_letters boolean := false;
    after_directive boolean := false;
    shown text := case when form is null then 'NULL' else '''' || form || '''' end;
    problem text;
    i int := 1;
    c text;
    j int;
    k int;
begin
    if form in ('iso8601', 'date', 'unix_seconds') then
        return array[form];
    end if;
    if form is null or strpos(form, '%') = 0 then
        raise exception 'typed_timestamp: unknown form %', shown;
    end if;
    while i <= length(form) and problem is null loop
        c := substr(form, i, 1);
        if c = '%' and substr(form, i + 1, 1) <> '%' then  -- a directive
            c := substr(form, i + 1, 1);
            i := i + 2;
            k := case when c = '' then 0 else strpos(letters, c) end;
            if k = 0 then
                problem := case when c = '' then 'a % at its end' else 'unknown directive %' || c end;
                continue;
            end if;
            for j in 1 .. 12 loop
                if fields[j] = fields[k] and groups[j] > 0 then
                    problem := format('the %s is given twice (%%%s and %%%s)', fields[k], substr(letters, j, 1), c);
                end if;
            end loop;
            groups[k] := 1 + (select count(*) from unnest(groups) as g where g > 0);
            regex := regex || parts[k];
            if c = 'z' and i > length(form) then
                pieces[k] := -1;
            else
                pieces[k] := length(literals) + 1;
                splits := splits and not after_directive and c <> 'z';
            end if;
            after_directive := true;
        else  -- a literal character (%% is one %)
            i := i + case when c = '%' then 2 else 1 end;
            regex := regex || case when strpos(special, c) > 0 then chr(92) || c else c end;
            literals := literals || c;
            splits := splits and strpos('0123456789', c) = 0;
            literal_letters := literal_letters
                               or strpos('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', c) > 0;
            after_directive := false;
        end if;
    end loop;
    if problem is null and (groups[8] = 0) <> (groups[9] = 0) then
        problem := '%I needs %p (AM or PM), and %p needs %I';
    end if;
    if problem is null and groups[1] = 0 and groups[2] = 0 then
        problem := 'no year (%Y or %y)';
    end if;
    if problem is not null then
        raise exception 'typed_timestamp: unknown form %: %', shown, problem;
    end if;
    if splits and not (literal_letters and (groups[4] > 0 or groups[5] > 0 or groups[9] > 0)) then
        return array['split', '^' || regex || '$', literals] || cast(pieces as text[]);
    end if;
    return array['pattern', '^' || regex || '$', ''] || cast(groups as text[]);
end
$body$),

-- value read by a form of typed_timestamp_form's: UTC text, or value itself when it cannot be
-- read. Every form is made 'YYYY-MM-DD HH:MM:SS' (the local time), whose fields are checked
-- before anything is made of them (30 February, hour 24, minute 60, year 0), so nothing raises,
-- no exception block is needed, and no setting of the session (DateStyle, TimeZone, lc_time)
-- is read.
('typed_timestamp_read', 'text, text[]', 'value text, form text[]', 'text', 'plpgsql', $body$
declare
    v text := btrim(value, ' ');
    f text[];
    t text;  -- the value's local time, 'YYYY-MM-DD HH:MM:SS'
    z text;  -- its offset as written (+HH:MM, +HHMM; NULL, Z or z: UTC)
    moment timestamp;
begin
    if v is null then
        return null;
    elsif form[1] = 'iso8601' then
        if v !~ ('^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.][0-9]+)?)?'
                 '(?: ?[Zz]|[+-][0-9]{2}:[0-9]{2})?)?$') then
            return value;
        end if;
        t := left(v, 10) || ' ' || case when length(v) >= 16 then substr(v, 12, 5) else '00:00' end
             || ':' || case when substr(v, 17, 1) = ':' then substr(v, 18, 2) else '00' end;
        if length(v) > 16 and substr(v, length(v) - 5, 1) in ('+', '-') then
            z := right(v, 6);
            if cast(substr(z, 2, 2) as int) > 14 then  -- (as stage 03: offsets up to 14:59)
                return value;
            end if;
        end if;
    elsif form[1] = 'unix_seconds' then
        if v ~ '^[0-9]{1,11}$' then
            return to_char(make_timestamp(1970, 1, 1, 0, 0, 0)
                           + make_interval(days => cast(cast(v as bigint) / 86400 as int),
                                           secs => cast(v as bigint) % 86400),
                           'YYYY-MM-DD"T"HH24:MI:SS');
        end if;
        return value;
    elsif form[1] = 'date' then
        if v !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then
            return value;
        end if;
        t := v || ' 00:00:00';
    else  -- a pattern: form[4] to form[15] say where %Y %y %m %b %B %d %H %I %p %M %S %z are
        if v !~ form[2] then
            return value;
        elsif form[1] = 'split' then
            if form[15] = '-1' then  -- %z, at the end
                z := right(v, case when right(v, 1) = 'Z' then 1 when substr(v, length(v) - 2, 1) = ':' then 6 else 5 end);
                v := left(v, length(v) - length(z));
            end if;
            f := string_to_array(translate(v, form[3], repeat(chr(1), length(form[3]))), chr(1));
        else
            f := regexp_match(v, form[2]);
            z := f[cast(form[15] as int)];
        end if;
        t := case when form[4] <> '0' then f[cast(form[4] as int)]
                  when cast(f[cast(form[5] as int)] as int) >= 69 then '19' || f[cast(form[5] as int)]
                  else '20' || f[cast(form[5] as int)] end
             || '-'
             || case when form[6] <> '0' then lpad(f[cast(form[6] as int)], 2, '0')
                     when form[7] <> '0'
                         then lpad(cast(array_position(array['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug',
                                                             'sep', 'oct', 'nov', 'dec'],
                                                       translate(f[cast(form[7] as int)], 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                                                 'abcdefghijklmnopqrstuvwxyz')) as text), 2, '0')
                     when form[8] <> '0'
                         then lpad(cast(array_position(array['january', 'february', 'march', 'april', 'may', 'june',
                                                             'july', 'august', 'september', 'october', 'november',
                                                             'december'],
                                                       translate(f[cast(form[8] as int)], 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                                                 'abcdefghijklmnopqrstuvwxyz')) as text), 2, '0')
                     else '01' end
             || '-'
             || case when form[9] <> '0' then lpad(f[cast(form[9] as int)], 2, '0') else '01' end
             || ' '
             || case when form[10] <> '0' then lpad(f[cast(form[10] as int)], 2, '0')
                     when form[11] = '0' then '00'
                     when cast(f[cast(form[11] as int)] as int) between 1 and 12  -- (else NULL: no hour)
                         then lpad(cast(cast(f[cast(form[11] as int)] as int) % 12
                                        + case when left(f[cast(form[12] as int)], 1) in ('P', 'p') then 12 else 0 end
                                        as text), 2, '0')
                end
             || ':' || case when form[13] <> '0' then f[cast(form[13] as int)] else '00' end
             || ':' || case when form[14] <> '0' then f[cast(form[14] as int)] else '00' end;
    end if;
    if t is null or left(t, 4) = '0000' or substr(t, 6, 2) not in ('01', '02', '03', '04', '05', '06', '07', '08', '09',
                                                                    '10', '11', '12')
       or cast(substr(t, 9, 2) as int) not between 1 and (case when substr(t, 6, 2) in ('04', '06', '09', '11') then 30
                                                               when substr(t, 6, 2) <> '02' then 31
                                                               when cast(left(t, 4) as int) % 4 = 0
                                                                    and (cast(left(t, 4) as int) % 100 <> 0
                                                                         or cast(left(t, 4) as int) % 400 = 0) then 29
                                                               else 28 end)  -- (a bare case's then would end the if)
       or cast(substr(t, 12, 2) as int) > 23 or cast(substr(t, 15, 2) as int) > 59 or cast(right(t, 2) as int) > 59 then
        return value;  -- 31 April, 29 February 2023, hour 24, minute 60, year 0
    end if;
    if z is null or z in ('Z', 'z') or substr(z, 2, 2) || right(z, 2) = '0000' then
        return replace(t, ' ', 'T');
    elsif cast(substr(z, 2, 2) as int) > 23 or cast(right(z, 2) as int) > 59 then
        return value;
    end if;
    moment := make_timestamp(cast(left(t, 4) as int), cast(substr(t, 6, 2) as int), cast(substr(t, 9, 2) as int),
                             cast(substr(t, 12, 2) as int), cast(substr(t, 15, 2) as int), cast(right(t, 2) as int))
              - make_interval(mins => (cast(substr(z, 2, 2) as int) * 60 + cast(right(z, 2) as int))
                                      * case when left(z, 1) = '-' then -1 else 1 end);
    if extract(year from moment) not between 1 and 9999 then
        return value;
    end if;
    return to_char(moment, 'YYYY-MM-DD"T"HH24:MI:SS');
end
$body$),

('typed_timestamp', 'text, text', 'value text, form text', 'text', 'sql', $body$
select typed_timestamp_read(value, typed_timestamp_form(form))
$body$),

-- 1 when form reads value, 0 when not, NULL for NULL: typed_timestamp gives back what it cannot
-- read, so the value goes in with a space before it (which it ignores); a reading has none
('typed_is_timestamp', 'text, text', 'value text, form text', 'integer', 'sql', $body$
select case when value is null then null
            when typed_timestamp_read(' ' || value, typed_timestamp_form(form)) = ' ' || value then 0
            else 1 end
$body$)
               ) as helpers (name, identity, arguments, result, language, body)
    loop
        found := to_regprocedure(format('%I.%I(%s)', current_schema(), helper.name, helper.identity));
        if found is not null and exists (
            select from pg_proc join pg_language on pg_language.oid = pg_proc.prolang
             where pg_proc.oid = found
               and pg_proc.prosrc = helper.body
               and pg_get_function_arguments(pg_proc.oid) = helper.arguments
               and pg_get_function_result(pg_proc.oid) = helper.result
               and pg_language.lanname = helper.language
               and pg_proc.provolatile = 'i' and pg_proc.proparallel = 's'
               and not pg_proc.proisstrict and not pg_proc.prosecdef and pg_proc.proconfig is null) then
            continue;  -- current: nothing to do
        end if;
        statement := format('create or replace function %I(%s) returns %s language %s immutable parallel safe as %L',
                            helper.name, helper.arguments, helper.result, helper.language, helper.body);
        begin
            execute statement;
        exception when invalid_function_definition then
            if found is null then
                raise;
            end if;
            -- another argument name or result type, which "or replace" cannot change
            execute format('drop function %s', found::regprocedure);
            execute statement;
        end;
    end loop;
end
$helpers$;
