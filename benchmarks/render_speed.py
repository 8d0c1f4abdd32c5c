"""Benchmark: wall time of the offline dev render vs `import pulumi_cloudflare` alone.

Both run in fresh Python processes (what a user waits for), after one discarded warm-up run
each so bytecode caches are equally warm. Prints the median of each and their ratio; the target
is a dev render faster than the Cloudflare import alone (the reason the dev path never imports it).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
RUNS = 5


def wall_time(command: list[str]) -> float:
    """Seconds one fresh process takes."""
    started = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_DIR, check=True, capture_output=True)
    return time.perf_counter() - started


def median_time(command: list[str]) -> float:
    """Median over RUNS after one warm-up."""
    wall_time(command)
    return statistics.median(wall_time(command) for _ in range(RUNS))


def main() -> int:
    """Measure, print, and exit 1 if the target is missed."""
    with tempfile.TemporaryDirectory() as out:
        render = median_time([sys.executable, "-m", "offline.render", "--stack", "dev", "--out", out])
    cloudflare = median_time([sys.executable, "-c", "import pulumi_cloudflare"])
    baseline = median_time([sys.executable, "-c", "pass"])
    print(f"python startup (baseline)     {baseline * 1000:8.0f} ms")
    print(f"dev render (whole program)    {render * 1000:8.0f} ms")
    print(f"import pulumi_cloudflare      {cloudflare * 1000:8.0f} ms")
    print(f"render / cloudflare import    {render / cloudflare:8.2f}  (target < 1.00)")
    return 0 if render < cloudflare else 1


if __name__ == "__main__":
    sys.exit(main())
