-- The database's size in bytes, and how much of it is free pages that new
-- runs fill before the file grows (--prune-history reports both). Inside a
-- transaction, it counts that transaction's changes. Reads only.
select page_count * page_size as bytes,
       freelist_count * page_size as reusable_bytes
  from pragma_page_count(), pragma_page_size(), pragma_freelist_count();
