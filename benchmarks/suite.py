"""``make bench``: the decode benchmark and the pipeline at 1, 4 and 10 buses, into one file.

Run from the repository root::

    poetry run python benchmarks/suite.py [--seconds 20] [--clients 10] [--output PATH]
        [--buses 1 4 10] [--repeat 1]

Writes ``benchmarks/results/latest.json``: the machine (cores, CPU model, load average before
each run), the commands, and each benchmark's JSON line; prints a summary table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUSES = (1, 4, 10)


def machine() -> dict[str, Any]:
    """Cores, CPU model and platform of this machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _run(command: list[str], timeout: float) -> dict[str, Any]:
    load = os.getloadavg()[0]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    display = ["poetry", "run", "python", *command[1:]]
    return {"command": " ".join(display), "load_average_before": round(load, 2), **report}


def main() -> None:
    """Run everything, write the results file, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/latest.json")
    parser.add_argument(
        "--buses", type=int, nargs="+", default=list(BUSES), help="Bus counts, in this order."
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="Consecutive runs of each bus count (default 1)."
    )
    args = parser.parse_args()
    args.output = args.output.resolve()
    python = sys.executable
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "decode": _run([python, "benchmarks/decode.py"], 600),
        "pipeline": [],
    }
    for buses in args.buses:
        command = [python, "benchmarks/pipeline.py", "--buses", str(buses)]
        command += ["--seconds", f"{args.seconds:g}", "--clients", str(args.clients)]
        for _ in range(max(1, args.repeat)):
            results["pipeline"].append(_run(command, args.seconds + 300))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{results['machine']['cores']} cores, {results['machine']['cpu_model']}")
    print(f"decode: {results['decode'].get('ns_per_frame')} ns/frame")
    header = "buses  sent     lost  cpu%   p50ms   p99ms  rss_mb  ws_msgs  ws_dropped  load"
    print(header)
    for r in results["pipeline"]:
        print(
            f"{r['buses']:>5}  {r['sent']:>7}  {r['lost']:>4}  {r['server_cpu_percent']:>5}  "
            f"{r['latency_ms_p50']!s:>6}  {r['latency_ms_p99']!s:>6}  {r['rss_mb_end']:>6}  "
            f"{r['ws_messages']:>7}  {r['ws_dropped']:>10}  {r['load_average_before']}"
        )
    print(f"written to {args.output.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
