"""Frame-to-WebSocket-client latency at one full bus, with N clients; prints one JSON line.

The server is the real ``coachiq serve`` in its own process on a ``udp_multicast`` bus (simulator
off). This process sends one full 250 kbit/s bus of realistic traffic (the load generator's mix,
1,800 frames/s, evenly paced, most frames changing some entity) and, among it, probe frames:
DC_DIMMER_STATUS_3 for two lights the mix does not touch, each with a new brightness, so every
probe is a state change whose send time is known. C WebSocket clients on ``/ws/entities`` time
each probe's ``entity_update``. Server CPU is the server process's own CPU time over the run.

    poetry run python -m benchmarks.ws_latency --clients 10 --seconds 20

Options: ``--window-ms`` sets COACHIQ_WEBSOCKET__BATCH_WINDOW_MS; ``--no-compression`` makes
the clients decline per-message deflate (browsers offer it; uvicorn accepts it by default).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import can
import psutil
import websockets

from backend.integrations.rvc import encode, load_config_data
from backend.services.simulator.load import FRAMES_PER_BUS, _fast_sender, build_pool

ROOT = Path(__file__).resolve().parents[1]
PROBE_SOURCE = 131  # the default mapping's DC dimmer module
PROBE_LIGHTS = {"light.bathroom_vanity": 4, "light.bedroom_reading": 5}
PROBE_RATE = 50.0  # probes per second, part of the 1,800
TICK = 0.002


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


class Generator(threading.Thread):
    """Paces the mix plus probes on the bus; records each probe's send time."""

    def __init__(self, bus: can.BusABC, rate: float) -> None:
        super().__init__(name="bench-generator", daemon=True)
        spec = load_config_data().spec
        self.send = _fast_sender(bus, build_pool(spec, 1))
        self.pool_size = len(build_pool(spec, 1))
        self.bus = bus
        self.rate = rate
        self.sent = 0
        self.probes = 0
        self.sent_at: dict[tuple[int, float], float] = {}
        self.stop_flag = threading.Event()
        levels = [i * 0.5 for i in range(201)]
        random.Random(7).shuffle(levels)
        self._levels = itertools.cycle(levels)
        self._instances = itertools.cycle(sorted(PROBE_LIGHTS.values()))

    def _probe(self) -> None:
        instance = next(self._instances)
        level = next(self._levels)
        arbitration_id, data = encode(
            "DC_DIMMER_STATUS_3",
            {"operating_status_brightness": level},
            instance=instance,
            source_address=PROBE_SOURCE,
        )
        self.sent_at[(instance, level)] = time.time()
        self.bus.send(can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=True))
        self.probes += 1

    def run(self) -> None:
        start = time.monotonic()
        index = itertools.cycle(range(self.pool_size))
        probe_every = max(1, round(self.rate / PROBE_RATE))
        while not self.stop_flag.is_set():
            due = int(self.rate * (time.monotonic() - start)) - self.sent
            for _ in range(due):
                if self.sent % probe_every == 0:
                    self._probe()
                else:
                    self.send(next(index))
                self.sent += 1
            time.sleep(TICK)


async def _client(
    url: str, compression: str | None, stop: asyncio.Event, generator: Generator, out: dict
) -> None:
    latencies: list[float] = out.setdefault("latencies", [])
    async with websockets.connect(url, compression=compression, max_size=None) as ws:
        lights: dict[str, int] = {}
        while not stop.is_set():
            try:
                async with asyncio.timeout(0.5):
                    text = await ws.recv()
            except TimeoutError:
                continue
            received = time.time()
            out["messages"] = out.get("messages", 0) + 1
            message = json.loads(text)
            kind = message["type"]
            if kind == "snapshot":
                lights = {
                    e["entity_id"]: e["device"]["instance"]
                    for e in message["entities"]
                    if e["entity_id"] in PROBE_LIGHTS
                }
            elif kind == "entity_update" and message["entity_id"] in lights:
                key = (lights[message["entity_id"]], message["state"].get("brightness"))
                sent = generator.sent_at.get(key)
                if sent is not None and out.get("measuring"):
                    latencies.append(received - sent)


async def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                response = await http.get(f"http://127.0.0.1:{port}/readyz")
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server not ready after 30 s")


def start_server(args: argparse.Namespace, port: int, group: str) -> subprocess.Popen[bytes]:
    """``coachiq serve`` on ``port`` with the bus on multicast ``group``, simulator off."""
    env = {
        **os.environ,
        "COACHIQ_CAN__BUSTYPE": "udp_multicast",
        "COACHIQ_CAN__INTERFACES": group,
        "COACHIQ_FEATURES__ENABLE_SIMULATOR": "false",
        "COACHIQ_RVC__COACH_MODEL": "default",  # the simulated coach runs elsewhere
        "COACHIQ_LOGGING__LEVEL": "WARNING",
        "COACHIQ_WEBSOCKET__BATCH_WINDOW_MS": str(args.window_ms),
    }
    coachiq = Path(sys.executable).with_name("coachiq")
    return subprocess.Popen(
        [str(coachiq), "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if args.quiet else None,
    )


async def run(
    args: argparse.Namespace, process: subprocess.Popen[bytes], port: int, group: str
) -> dict[str, Any]:
    """Run the generator and the clients against the started server; return the report."""
    bus = can.Bus(interface="udp_multicast", channel=group, receive_own_messages=False)
    generator = Generator(bus, args.rate)
    stop = asyncio.Event()
    outs: list[dict[str, Any]] = [{} for _ in range(args.clients)]
    try:
        await _wait_ready(port, process)
        server = psutil.Process(process.pid)
        rss_start = server.memory_info().rss
        compression = None if args.no_compression else "deflate"
        url = f"ws://127.0.0.1:{port}/ws/entities"
        tasks = [
            asyncio.create_task(_client(url, compression, stop, generator, out), name="bench")
            for out in outs
        ]
        generator.start()
        await asyncio.sleep(args.warmup)
        for out in outs:
            out["measuring"] = True
        cpu_start = server.cpu_times()
        wall_start = time.monotonic()
        sent_start = generator.sent
        await asyncio.sleep(args.seconds)
        cpu_end = server.cpu_times()
        wall = time.monotonic() - wall_start
        sent = generator.sent - sent_start
        for out in outs:
            out["measuring"] = False
        rss_end = server.memory_info().rss
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        generator.stop_flag.set()
        if generator.is_alive():
            await asyncio.to_thread(generator.join, 2)
        bus.shutdown()
    cpu = (cpu_end.user + cpu_end.system) - (cpu_start.user + cpu_start.system)
    latencies = [x * 1000 for out in outs for x in out.get("latencies", [])]
    return {
        "benchmark": "ws_latency",
        "clients": args.clients,
        "seconds": round(wall, 2),
        "frames_per_second": round(sent / wall, 1),
        "probes_per_second": PROBE_RATE,
        "batch_window_ms": args.window_ms,
        "compression": compression,
        "latency_samples": len(latencies),
        "latency_ms_p50": round(statistics.median(latencies), 2) if latencies else None,
        "latency_ms_p99": round(_percentile(latencies, 0.99), 2) if latencies else None,
        "latency_ms_max": round(max(latencies), 2) if latencies else None,
        "server_cpu_percent": round(100 * cpu / wall, 1),
        "ws_messages_per_client": (
            round(statistics.mean(o.get("messages", 0) for o in outs), 1) if outs else 0
        ),
        "rss_mb_start": round(rss_start / 2**20, 1),
        "rss_mb_end": round(rss_end / 2**20, 1),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    """Parse arguments, run, print the JSON report."""
    parser = argparse.ArgumentParser(description="Frame-to-WebSocket-client latency benchmark.")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=float(FRAMES_PER_BUS))
    parser.add_argument("--window-ms", type=float, default=10.0)
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="Hide the server's log.")
    args = parser.parse_args()
    port = _free_port()
    group = f"239.74.{random.randint(0, 255)}.{random.randint(1, 254)}"
    process = start_server(args, port, group)
    try:
        report = asyncio.run(run(args, process, port, group))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
