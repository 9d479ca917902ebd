-- python runner.py --trace KEY: the key's current row in events, if any.
select * from events where event_id = :key;
