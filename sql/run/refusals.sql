-- Read after every stage: a stage refuses the run by inserting a row into
-- run_refusal. The runner then rolls back and reports the reason.
select reason from run_refusal;
