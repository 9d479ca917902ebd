"""What people read on stderr, and the --output file."""

from __future__ import annotations

import json
import os
import tempfile

from .errors import OutputFailed


def summary_line(s: dict) -> str:
    parts = [f"{s['loaded']} loaded ({s['inserted']} new, {s['updated']} updated)",
             f"{s['skipped']} skipped by the watermark", f"{s['stale']} stale",
             f"{s['superseded']} superseded", f"{s['rejected']} rejected"]
    line = f"run {s['run_id']}: {s['input_records']} records: " + ", ".join(parts)
    if s["rejected"]:
        line += f" (see: select * from dead_letter where last_run_id = {s['run_id']})"
    return line + f"; watermark {s['watermark']}"


def lineage_table(run_id: int, by_step: dict) -> str:
    width = max([len("step")] + [len(step) for step in by_step])
    lines = [f"lineage of run {run_id}", f"{'step':<{width}}  entries"]
    lines += [f"{step:<{width}}  {count:>7}" for step, count in by_step.items()]
    lines.append(f"{'total':<{width}}  {sum(by_step.values()):>7}")
    return "\n".join(lines)


def repair_line(result: dict) -> str:
    return (f"watermark was {result['watermark_before']!r}, now {result['watermark']!r} "
            f"(from {result['restored_from']})")


def write_results(path: str, summary: dict, by_step: dict, runs: list) -> None:
    # written beside the target and renamed: a reader never sees half a file
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"summary": summary, "lineage_by_step": by_step, "runs": runs}, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputFailed(f"run {summary['run_id']} succeeded and was committed, but --output {path} "
                           f"could not be written: {exc.strerror}") from None
