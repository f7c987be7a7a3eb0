"""Soak: the real server with the simulated coach and two WebSocket clients for a long time.

Opt-in (never part of the test run): ``coachiq serve`` runs in its own process with its defaults
(virtual bus, the simulated coach at the rates the spec gives) plus SQLite persistence in a
temporary directory, so the history writer works too. Two clients stay on ``/ws/entities``
reading everything. Every ``--interval`` seconds (10) one sample is taken: the server's RSS, open
file descriptors and threads (from /proc through psutil), and from ``GET /metrics`` the event
loop's tasks, every bounded queue (items and bound), frames received, WebSocket messages sent
and dropped, history rows written and dropped. The result is one JSON document: the samples and
a summary of first vs last (after ``--warmup`` seconds) with the verdict the issue asks for:
RSS within 5 % and no rise in tasks or descriptors.

    poetry run python benchmarks/soak.py                       # 30 minutes
    poetry run python benchmarks/soak.py --seconds 180 --output benchmarks/results/soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import websockets
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
RSS_TOLERANCE_PERCENT = 5.0
SUMMED = frozenset({"coachiq_can_frames_received_total", "coachiq_websocket_clients"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(port: int, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACHIQ_")}
    env.update(
        COACHIQ_PERSISTENCE__ENABLED="true",
        COACHIQ_PERSISTENCE__DATA_DIR=str(data_dir),
        COACHIQ_LOGGING__LEVEL="WARNING",
    )
    script = Path(sys.executable).with_name("coachiq")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "backend.cli.main"]
    with log.open("wb") as output:
        return subprocess.Popen(
            [*command, "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"coachiq serve exited with {process.returncode}")
        with contextlib.suppress(OSError):
            if '"ready"' in _get(f"{base}/readyz", 2):
                return
        time.sleep(0.5)
    raise SystemExit(f"coachiq serve not ready in {timeout:g} s")


def scrape(base: str) -> dict[str, Any]:
    """The figures of one ``/metrics`` scrape the soak follows."""
    text = _get(f"{base}/metrics")
    values: dict[str, float] = {}
    queues: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if family.name in ("coachiq_queue_items", "coachiq_queue_capacity"):
                key = labels["queue"] + (f":{labels['interface']}" if labels["interface"] else "")
                field = "items" if family.name.endswith("items") else "capacity"
                queues.setdefault(key, {})[field] = sample.value
            elif not labels:
                values[sample.name] = sample.value
            elif sample.name in SUMMED:  # summed over interfaces / endpoints
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return {
        "tasks": int(values.get("coachiq_asyncio_tasks", -1)),
        "frames_received": int(values.get("coachiq_can_frames_received_total", 0)),
        "ws_clients": int(values.get("coachiq_websocket_clients", 0)),
        "ws_messages_sent": int(values.get("coachiq_websocket_messages_sent_total", 0)),
        "ws_messages_dropped": int(values.get("coachiq_websocket_messages_dropped_total", 0)),
        "history_rows_written": int(values.get("coachiq_history_rows_written_total", 0)),
        "history_rows_dropped": int(values.get("coachiq_history_rows_dropped_total", 0)),
        "cpu_seconds": values.get("coachiq_process_cpu_seconds_total"),
        "data_dir_bytes": int(values.get("coachiq_data_dir_bytes", 0)),
        "queues": queues,
    }


class Client:
    """One WebSocket client reading ``/ws/entities`` until stopped; counts what it gets."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages = 0
        self.reconnects = 0

    async def run(self) -> None:
        while True:
            try:
                async with websockets.connect(self.url, max_size=None) as ws:
                    async for _ in ws:
                        self.messages += 1
            except (OSError, websockets.WebSocketException):
                self.reconnects += 1
                await asyncio.sleep(1)


def sample(process: psutil.Process, base: str, started: float, clients: list[Client]) -> dict:
    """One sample: process figures from /proc and the server's own from /metrics."""
    with process.oneshot():
        rss = process.memory_info().rss
        fds = process.num_fds()
        threads = process.num_threads()
    return {
        "t": round(time.monotonic() - started, 1),
        "rss_bytes": rss,
        "fds": fds,
        "threads": threads,
        **scrape(base),
        "client_messages": [c.messages for c in clients],
        "client_reconnects": sum(c.reconnects for c in clients),
    }


def summarize(samples: list[dict[str, Any]], warmup: float) -> dict[str, Any]:
    """First (after warm-up) vs last sample; the verdict: RSS within 5 %, no rise in counts."""
    steady = [s for s in samples if s["t"] >= warmup] or samples
    first, last = steady[0], steady[-1]
    rss_change = 100.0 * (last["rss_bytes"] - first["rss_bytes"]) / first["rss_bytes"]
    queues = {
        name: {
            "max_items": max(s["queues"].get(name, {}).get("items", 0) for s in steady),
            "capacity": last["queues"].get(name, {}).get("capacity"),
            "last_items": last["queues"].get(name, {}).get("items"),
        }
        for name in sorted(last["queues"])
    }
    tasks_rising = last["tasks"] > first["tasks"]
    fds_rising = last["fds"] > first["fds"]
    return {
        "from_t": first["t"],
        "to_t": last["t"],
        "rss_mb_first": round(first["rss_bytes"] / 2**20, 1),
        "rss_mb_last": round(last["rss_bytes"] / 2**20, 1),
        "rss_mb_max": round(max(s["rss_bytes"] for s in steady) / 2**20, 1),
        "rss_change_percent": round(rss_change, 2),
        "fds": [first["fds"], last["fds"], max(s["fds"] for s in steady)],
        "tasks": [first["tasks"], last["tasks"], max(s["tasks"] for s in steady)],
        "threads": [first["threads"], last["threads"], max(s["threads"] for s in steady)],
        "frames_received": last["frames_received"] - first["frames_received"],
        "ws_messages_sent": last["ws_messages_sent"] - first["ws_messages_sent"],
        "ws_messages_dropped": last["ws_messages_dropped"],
        "history_rows_written": last["history_rows_written"] - first["history_rows_written"],
        "history_rows_dropped": last["history_rows_dropped"],
        "queues": queues,
        "flat": abs(rss_change) <= RSS_TOLERANCE_PERCENT and not tasks_rising and not fds_rising,
    }


async def soak(seconds: float, interval: float, warmup: float) -> dict[str, Any]:
    """Run the server and the clients, sample, and return the JSON document."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="coachiq-soak-") as tmp:
        log = Path(tmp) / "serve.log"
        server = _start_server(port, Path(tmp) / "data", log)
        try:
            await asyncio.to_thread(_wait_ready, base, server)
            process = psutil.Process(server.pid)
            clients = [Client(f"ws://127.0.0.1:{port}/ws/entities") for _ in range(2)]
            tasks = [asyncio.create_task(c.run(), name=f"soak-client-{i}")
                     for i, c in enumerate(clients)]  # fmt: skip
            started = time.monotonic()
            samples = []
            try:
                while True:
                    samples.append(await asyncio.to_thread(sample, process, base, started,
                                                           clients))  # fmt: skip
                    print(json.dumps({k: samples[-1][k] for k in ("t", "rss_bytes", "fds",
                          "tasks", "frames_received")}), file=sys.stderr)  # fmt: skip
                    if samples[-1]["t"] >= seconds:
                        break
                    await asyncio.sleep(interval - (time.monotonic() - started) % interval)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
            tail = log.read_text(errors="replace")[-2000:]
    return {
        "benchmark": "soak",
        "seconds": seconds,
        "interval": interval,
        "warmup": warmup,
        "host": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_end": os.getloadavg(),
        },
        "summary": summarize(samples, warmup),
        "samples": samples,
        "server_log_tail": tail if "Traceback" in tail or "ERROR" in tail else "",
    }


def main() -> None:
    """Parse the options, run the soak and print (or write) the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1800.0, help="Duration (30 min).")
    parser.add_argument("--interval", type=float, default=10.0, help="Seconds between samples.")
    parser.add_argument(
        "--warmup", type=float, default=60.0, help="Seconds before the first compared sample."
    )
    parser.add_argument("--output", type=Path, help="Also write the JSON to this file.")
    args = parser.parse_args()
    result = asyncio.run(soak(args.seconds, args.interval, min(args.warmup, args.seconds / 2)))
    text = json.dumps(result, indent=2)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
