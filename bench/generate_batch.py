"""Writes a seeded batch like a real feed: ~20% repeated keys with other timestamps, ~2% invalid.

    python bench/generate_batch.py 1000000 /tmp/batch.csv [--seed 7] [--start 2025-01-01T00:00:00] [--feed orders]
    python bench/generate_batch.py 1000000 /tmp/batch.csv --random-keys   # 32 hex characters, as real feeds have
    python bench/generate_batch.py 1000000 /tmp/batch.csv --deletes 0.1   # an op column: 10% D, else I or U

Sequential keys (evt-000000001, ...) arrive in key order, which flatters a B-tree; real keys
(UUIDs, hashes) arrive in no order. --random-keys gives each seed its own keys.

--deletes F adds the column op (events only; bench/feeds/events_with_deletes.sql reads it): each
record is D with probability F, else I (a key's own record) or U (a repeated key). The D records
are drawn from a random stream of their own, so the batch is otherwise the one F = 0 gives. A D
keeps the key its record would have had -- a key of the same batch, so in a single batch a D
removes nothing: it wins its key only if it is that key's newest record, and then is remembered
(a tombstone, 'no row') -- unless earlier_seeds (the seeds of earlier random-key batches of
as many records: bench.py --history) are given: then it deletes a random key of one of those.
"""

from __future__ import annotations

import argparse
import hashlib
import random
from datetime import datetime, timedelta, timezone

INVALID = ["not-a-time", "2025-02-30T10:00:00", ""]


def write_batch(path, n: int, seed: int = 7, start: str = "2025-01-01T00:00:00", key_offset: int = 0,
                feed: str = "events", random_keys: bool = False, deletes: float | None = None,
                earlier_seeds: tuple[int, ...] = ()) -> None:
    """feed: 'events' (the sample's columns) or 'orders' (sql/feeds/orders.sql: a key of two
    columns, epoch seconds); the same records either way. deletes, earlier_seeds: see above."""
    if deletes is not None and feed != "events":
        raise ValueError("deletes: only for the events shape")
    rng = random.Random(seed)
    deleting = random.Random(f"{seed}:deletes")
    base = datetime.fromisoformat(start)
    distinct = int(n * 0.8)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(("event_id,event_ts,user_id,amount" + (",op" if deletes is not None else "") + "\n") if feed == "events"
                else "store_id,order_id,updated_at,customer,total\n")
        for i in range(n):
            key = i if i < distinct else rng.randrange(distinct)
            moment = base + timedelta(seconds=rng.randrange(30 * 86400))
            ts = moment.strftime("%Y-%m-%dT%H:%M:%S") if feed == "events" else \
                str(int(moment.replace(tzinfo=timezone.utc).timestamp()))
            amount = f"{rng.randrange(100000) / 100:.2f}"
            roll = rng.random()
            if roll < 0.01:
                ts = rng.choice(INVALID)
            elif roll < 0.02:
                amount = "n/a"
            user = f"user-{rng.randrange(50000)}"
            name = hashlib.md5(f"{seed}:{key + key_offset}".encode()).hexdigest() if random_keys else \
                f"{key + key_offset:09d}"
            op = ""
            if deletes is not None:
                op = ",U" if i >= distinct else ",I"
                if deleting.random() < deletes:
                    op = ",D"
                    if earlier_seeds:
                        name = hashlib.md5(f"{deleting.choice(earlier_seeds)}:{deleting.randrange(distinct)}"
                                           .encode()).hexdigest()
            if feed == "events":
                f.write(f"{'' if random_keys else 'evt-'}{name},{ts},{user},{amount}{op}\n")
            else:
                f.write(f"S{(key + key_offset) % 7},{'' if random_keys else 'O-'}{name},{ts},{user},{amount}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records", type=int)
    parser.add_argument("path")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2025-01-01T00:00:00")
    parser.add_argument("--feed", choices=("events", "orders"), default="events")
    parser.add_argument("--random-keys", action="store_true", help="32 hex characters, in no order")
    parser.add_argument("--deletes", metavar="FRACTION", type=float,
                        help="add the column op: this fraction D (keys of the same batch), else I or U")
    args = parser.parse_args()
    write_batch(args.path, args.records, args.seed, args.start, feed=args.feed, random_keys=args.random_keys,
                deletes=args.deletes)


if __name__ == "__main__":
    main()
