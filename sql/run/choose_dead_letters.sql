-- The dead letters a command names, which the runner lands here: the ids of
-- --dismiss-dead-letters, or the lines of --replay-dead-letters --from PATH
-- (with the source and line each says its record came from, and its edited
-- text). Empty for a plain replay: run/replay_source.sql then sends every
-- open dead letter of the feed. A table of this connection only.
drop table if exists chosen_dead_letter;
create temp table chosen_dead_letter (
    dead_letter_id  bigint primary key,
    place           integer not null,  -- where it was named: its place on the command line, or PATH's line
    source          text,              -- --from: where the line says the record came from (as exported) ...
    line_no         bigint,
    raw             text               -- ... and its text, edited
);
