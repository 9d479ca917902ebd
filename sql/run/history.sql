-- Every run, oldest first, whatever its status (for --output).
select * from run_log order by run_id;
