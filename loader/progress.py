"""Progress on stderr for long runs: records read, their rate, the current stage.

Shown only when stderr is a terminal (or with --progress), never on stdout.
"""

from __future__ import annotations

import sys


class Progress:
    """No progress: the default when stderr is not a terminal."""

    def records(self, batches, source: str):
        return batches

    def stage(self, name: str) -> None:
        pass

    def done(self) -> None:
        pass


class BarProgress(Progress):
    def __init__(self):
        from tqdm import tqdm
        self._tqdm = tqdm
        self._bar = None

    def records(self, batches, source: str):
        self._bar = self._tqdm(desc=f"reading {source}", unit=" records", unit_scale=True,
                               file=sys.stderr, mininterval=0.5, leave=False)
        for batch in batches:
            yield batch
            self._bar.update(len(batch.rows))

    def stage(self, name: str) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        print(f"\r\033[Kstage {name} ...", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
