"""Writes a seeded batch like a real feed: ~20% repeated keys with other timestamps, ~2% invalid.

    python bench/generate_batch.py 1000000 /tmp/batch.csv [--seed 7] [--start 2025-01-01T00:00:00]
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime, timedelta

INVALID = ["not-a-time", "2025-02-30T10:00:00", ""]


def write_batch(path, n: int, seed: int = 7, start: str = "2025-01-01T00:00:00", key_offset: int = 0) -> None:
    rng = random.Random(seed)
    base = datetime.fromisoformat(start)
    distinct = int(n * 0.8)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("event_id,event_ts,user_id,amount\n")
        for i in range(n):
            key = i if i < distinct else rng.randrange(distinct)
            ts = (base + timedelta(seconds=rng.randrange(30 * 86400))).strftime("%Y-%m-%dT%H:%M:%S")
            amount = f"{rng.randrange(100000) / 100:.2f}"
            roll = rng.random()
            if roll < 0.01:
                ts = rng.choice(INVALID)
            elif roll < 0.02:
                amount = "n/a"
            f.write(f"evt-{key + key_offset:09d},{ts},user-{rng.randrange(50000)},{amount}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records", type=int)
    parser.add_argument("path")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2025-01-01T00:00:00")
    args = parser.parse_args()
    write_batch(args.path, args.records, args.seed, args.start)


if __name__ == "__main__":
    main()
