-- The feed's current watermark, read inside the load transaction and bound to every
-- stage as :watermark (NULL before the first load). Stage 03 validates it.
select value from watermark where feed = :feed;
