"""Writes a seeded batch like a real feed: ~20% repeated keys with other timestamps, ~2% invalid.

    python bench/generate_batch.py 1000000 /tmp/batch.csv [--seed 7] [--start 2025-01-01T00:00:00] [--feed orders]
    python bench/generate_batch.py 1000000 /tmp/batch.csv --random-keys   # 32 hex characters, as real feeds have

Sequential keys (evt-000000001, ...) arrive in key order, which flatters a B-tree; real keys
(UUIDs, hashes) arrive in no order. --random-keys gives each seed its own keys.
"""

from __future__ import annotations

import argparse
import hashlib
import random
from datetime import datetime, timedelta, timezone

INVALID = ["not-a-time", "2025-02-30T10:00:00", ""]


def write_batch(path, n: int, seed: int = 7, start: str = "2025-01-01T00:00:00", key_offset: int = 0,
                feed: str = "events", random_keys: bool = False) -> None:
    """feed: 'events' (the sample's columns) or 'orders' (sql/feeds/orders.sql: a key of two
    columns, epoch seconds); the same records either way."""
    rng = random.Random(seed)
    base = datetime.fromisoformat(start)
    distinct = int(n * 0.8)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("event_id,event_ts,user_id,amount\n" if feed == "events"
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
            if feed == "events":
                f.write(f"{'' if random_keys else 'evt-'}{name},{ts},{user},{amount}\n")
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
    args = parser.parse_args()
    write_batch(args.path, args.records, args.seed, args.start, feed=args.feed, random_keys=args.random_keys)


if __name__ == "__main__":
    main()
