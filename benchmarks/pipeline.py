"""The whole path, end to end: load generator -> ``coachiq serve`` -> WebSocket clients.

Three processes on one machine, as in issue 9:

- the server, the real ``coachiq serve`` on a ``udp_multicast`` bus (simulator off);
- the load generator, ``coachiq simulate --load N`` (N x 1,800 frames/s of the realistic mix,
  evenly paced) with ``--probe-rate`` probe frames among them: state changes of
  ``solar_controller.roof`` carrying their own send time (receivers replace frame timestamps);
- C WebSocket clients on ``/ws/entities`` in a third process (this script with
  ``--clients-worker``), timing each probe's ``entity_update``.

Run from the repository root::

    poetry run python benchmarks/pipeline.py --buses 10 --seconds 20 --clients 10
    poetry run python benchmarks/pipeline.py --buses 4 --seconds 3600   # soak: RSS over time

Prints one JSON line: ``buses``, ``seconds``, ``clients``, ``sent`` (the generator's count),
``received`` (frames the server counted, from ``/api/can/statistics``), ``lost``,
``server_cpu_percent`` (of one core, from the server process's own CPU time while the load runs),
``server_cpu_system_percent`` (the kernel's share of it), ``latency_ms_p50``/``latency_ms_p99``
(probe frame sent -> ``entity_update`` received),
``rss_mb_start``/``rss_mb_end``, ``ws_messages`` and ``ws_dropped`` (the server's WebSocket
counters, from ``/readyz``), and diagnostics (``latency_samples``, ``latency_ms_max``,
``rx_dropped``, ``socket_drops`` (the kernel's drops on the server's own sockets),
``load_average``, ``rss_mb_max``, in soak mode
``rss_mb_after_1min``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from array import array
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
KEYS = (
    "buses",
    "seconds",
    "clients",
    "sent",
    "received",
    "lost",
    "server_cpu_percent",
    "latency_ms_p50",
    "latency_ms_p99",
    "rss_mb_start",
    "rss_mb_end",
    "ws_messages",
    "ws_dropped",
)
_MB = 2**20


class BenchmarkError(RuntimeError):
    """A process of the benchmark failed or did not answer in time."""


# --- helpers -------------------------------------------------------------------------------------


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _get_json(port: int, path: str, timeout: float = 5.0) -> Any:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:  # /readyz answers 503 with a body
        return json.loads(exc.read())


def _socket_drops(pid: int) -> int | None:
    """Datagrams the kernel dropped on the UDP sockets of process ``pid`` (full receive buffer)."""
    try:
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        drops = 0
        for table in ("udp", "udp6"):
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
            for line in lines:
                fields = line.split()
                if len(fields) >= 13 and fields[9] in inodes:
                    drops += int(fields[12])
        return drops
    except OSError:
        return None


def _coachiq() -> str:
    found = Path(sys.executable).with_name("coachiq")
    return str(found) if found.exists() else "coachiq"


# --- the server ----------------------------------------------------------------------------------


class Server:
    """``coachiq serve`` on a private multicast group and port; its counters through the API."""

    def __init__(self, group: str, udp_port: int, env: dict[str, str], log: Path) -> None:
        self.group = group
        self.udp_port = udp_port
        self.port = _free_port(socket.SOCK_STREAM)
        self.log = log
        environment = {
            **os.environ,
            "COACHIQ_CAN__BUSTYPE": "udp_multicast",
            "COACHIQ_CAN__INTERFACES": group,
            "COACHIQ_CAN__BUS_OPTIONS": json.dumps({"port": udp_port}),
            "COACHIQ_FEATURES__ENABLE_SIMULATOR": "false",
            "COACHIQ_RVC__COACH_MODEL": "default",  # the simulated coach runs elsewhere
            "COACHIQ_LOGGING__LEVEL": "WARNING",
            **env,
        }
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            [_coachiq(), "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=environment,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        import psutil

        self.ps = psutil.Process(self.process.pid)

    def wait_ready(self, timeout: float) -> None:
        """Return once ``/readyz`` says ready and the CAN interface is up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"server exited with {self.process.returncode}: {self.tail()}")
            with contextlib.suppress(OSError, ValueError):
                if _get_json(self.port, "/readyz").get("status") == "ready":
                    interfaces = _get_json(self.port, "/api/can/interfaces")
                    items = interfaces.get("interfaces", interfaces)
                    if items and all(i.get("state") == "up" for i in items):
                        return
            time.sleep(0.1)
        raise BenchmarkError(f"server not ready after {timeout:.0f} s: {self.tail()}")

    def can_counters(self) -> tuple[int, int]:
        """(frames received, frames dropped from the receive queue) of all interfaces."""
        stats = _get_json(self.port, "/api/can/statistics")
        dropped = sum(i.get("rx_dropped", 0) for i in stats["interfaces"].values())
        return int(stats["rx"]), int(dropped)

    def ws_counters(self) -> tuple[int, int]:
        """(WebSocket messages sent, messages or clients dropped) from the websocket feature."""
        websocket = _get_json(self.port, "/readyz")["details"].get("websocket")
        if websocket is None:  # the feature is disabled
            return 0, 0
        details = websocket.get("details") or {}
        sent = int(details.get("messages_sent", 0))
        dropped = int(details.get("dropped", details.get("dropped_stalled", 0)))
        return sent, dropped

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        times = self.ps.cpu_times()
        return times.user + times.system

    def cpu_system_seconds(self) -> float:
        """System (kernel) CPU time of the server process so far."""
        return self.ps.cpu_times().system

    def rss_mb(self) -> float:
        """Resident set size now."""
        return self.ps.memory_info().rss / _MB

    def tail(self, lines: int = 15) -> str:
        """The end of the server's log."""
        self._log_file.flush()
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        """Terminate (then kill) the server."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log_file.close()


# --- the clients (a process of their own) --------------------------------------------------------


def _clients_worker(url: str, count: int, compression: str | None) -> None:
    """Connect ``count`` clients, print ``ready``, time probes until stdin says stop, report."""
    asyncio.run(_run_clients(url, count, compression))


async def _run_clients(url: str, count: int, compression: str | None) -> None:
    import orjson
    import websockets

    from backend.services.simulator.load import PROBE_ENTITY, probe_sent_at

    marker = f'"{PROBE_ENTITY}"'
    latencies = array("d")
    totals = {"messages": 0, "updates": 0}
    stop = asyncio.Event()
    ready = 0
    all_ready = asyncio.Event()

    async def client() -> None:
        nonlocal ready
        async with websockets.connect(
            url, compression=compression, max_size=None, open_timeout=30
        ) as ws:
            snapshot = orjson.loads(await ws.recv())
            if snapshot.get("type") != "snapshot":
                raise BenchmarkError(f"first message is not a snapshot: {snapshot.get('type')}")
            ready += 1
            if ready == count:
                all_ready.set()
            while not stop.is_set():
                try:
                    async with asyncio.timeout(0.5):
                        text = await ws.recv()
                except TimeoutError:
                    continue
                received = time.time()
                totals["messages"] += 1
                if not isinstance(text, str) or marker not in text:
                    continue
                message = orjson.loads(text)
                if message.get("type") == "entity_update":
                    totals["updates"] += 1
                    sent = probe_sent_at(message.get("state") or {}, received)
                    if sent is not None:
                        latencies.append((received - sent) * 1000)

    tasks = [asyncio.create_task(client(), name=f"bench-client-{i}") for i in range(count)]
    waiter = asyncio.create_task(all_ready.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        for task in done:
            task.result()  # a client failed: raise its error
    print(json.dumps({"ready": True}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    ordered = sorted(latencies)
    print(
        json.dumps(
            {
                "messages": totals["messages"],
                "probe_updates": totals["updates"],
                "latency_samples": len(ordered),
                "latency_ms_p50": round(statistics.median(ordered), 2) if ordered else None,
                "latency_ms_p99": round(_percentile(ordered, 0.99), 2) if ordered else None,
                "latency_ms_max": round(ordered[-1], 2) if ordered else None,
            }
        ),
        flush=True,
    )


class Clients:
    """The clients' process."""

    def __init__(self, url: str, count: int, compression: str | None) -> None:
        args = [sys.executable, str(Path(__file__).resolve()), "--clients-worker", url]
        args += ["--clients", str(count), "--compression", compression or "none"]
        self.process = subprocess.Popen(
            args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def _line(self, timeout: float) -> dict[str, Any]:
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self.process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not result or not result[0]:
            raise BenchmarkError(f"clients did not answer in {timeout:.0f} s")
        return json.loads(result[0])

    def wait_ready(self, timeout: float) -> None:
        """Return once every client has its snapshot."""
        self._line(timeout)

    def finish(self, timeout: float) -> dict[str, Any]:
        """Stop the clients; their report."""
        assert self.process.stdin is not None
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        report = self._line(timeout)
        self.process.wait(timeout)
        return report

    def kill(self) -> None:
        """Make sure the process is gone."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


# --- the run -------------------------------------------------------------------------------------


def _wait_settled(server: Server, rx_start: int, sent: int, timeout: float) -> tuple[int, int]:
    """Poll the server's counters until it has counted ``sent`` frames or stopped counting."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    received = dropped = 0
    while time.monotonic() < deadline:
        rx, dropped = server.can_counters()
        received = rx - rx_start
        if received >= sent:
            break
        if rx != last:
            last, since = rx, time.monotonic()
        elif time.monotonic() - since > 1.0:
            break
        time.sleep(0.05)
    return received, dropped


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the three processes, run the load, measure; the report."""
    group = f"239.74.{random.randint(0, 255)}.{random.randint(1, 254)}"
    udp_port = _free_port(socket.SOCK_DGRAM)
    env = dict(item.split("=", 1) for item in args.server_env)
    log = Path(tempfile.gettempdir()) / f"coachiq-pipeline-{os.getpid()}.log"
    server = Server(group, udp_port, env, log)
    clients: Clients | None = None
    generator: subprocess.Popen[str] | None = None
    profiler: subprocess.Popen[bytes] | None = None
    load_average = os.getloadavg()[0]
    try:
        server.wait_ready(args.timeout)
        if args.clients:
            clients = Clients(
                f"ws://127.0.0.1:{server.port}/ws/entities", args.clients, args.compression
            )
            clients.wait_ready(args.timeout)
        rx_start, dropped_start = server.can_counters()
        ws_sent_start, ws_dropped_start = server.ws_counters()
        drops_start = _socket_drops(server.process.pid)
        rss_start = server.rss_mb()
        generator = subprocess.Popen(
            [
                _coachiq(), "simulate", "--load", str(args.buses),
                "--bustype", "udp_multicast", "--channel", group,
                "--bus-options", json.dumps({"port": udp_port}),
                "--duration", str(args.seconds), "--probe-rate", str(args.probe_rate),
            ],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        # The load starts when the generator has imported and built its pool: measure from the
        # server's first frame, not from the fork.
        deadline = time.monotonic() + args.timeout
        while server.can_counters()[0] == rx_start:
            if generator.poll() is not None or time.monotonic() > deadline:
                raise BenchmarkError("the load generator sent nothing")
            time.sleep(0.02)
        cpu_start, wall_start = server.cpu_seconds(), time.monotonic()
        system_start = server.cpu_system_seconds()
        if args.py_spy:
            profiler = subprocess.Popen(
                [
                    os.environ.get("PY_SPY", "py-spy"), "record", "--pid", str(server.process.pid),
                    "--duration", str(max(1, int(args.seconds) - 2)), "--rate", "200",
                    "--format", "raw", "--output", args.py_spy, "--nonblocking",
                ],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        rss_samples: list[tuple[float, float]] = []
        while generator.poll() is None:
            time.sleep(min(1.0, args.seconds / 4))
            rss_samples.append((time.monotonic() - wall_start, server.rss_mb()))
            if time.monotonic() - wall_start > args.seconds + args.timeout:
                raise BenchmarkError("the load generator did not stop")
        out = (generator.stdout.read() if generator.stdout else "").strip().splitlines()
        if generator.returncode != 0 or not out:
            raise BenchmarkError(f"the load generator failed ({generator.returncode})")
        load = json.loads(out[-1])
        received, dropped_end = _wait_settled(server, rx_start, load["sent"], args.timeout)
        cpu_end, wall_end = server.cpu_seconds(), time.monotonic()
        system_end = server.cpu_system_seconds()
        rss_end = server.rss_mb()
        drops_end = _socket_drops(server.process.pid)
        ws_sent_end, ws_dropped_end = server.ws_counters()
        latency = clients.finish(args.timeout) if clients else {}
    finally:
        if generator is not None and generator.poll() is None:
            generator.kill()
        if profiler is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(30)
        if clients is not None:
            clients.kill()
        server.stop()
    wall = wall_end - wall_start
    rss_values = [rss for _, rss in rss_samples] + [rss_start, rss_end]
    report: dict[str, Any] = {
        "buses": args.buses,
        "seconds": args.seconds,
        "clients": args.clients,
        "sent": load["sent"],
        "received": received,
        "lost": load["sent"] - received,
        "server_cpu_percent": round(100 * (cpu_end - cpu_start) / wall, 1),
        "server_cpu_system_percent": round(100 * (system_end - system_start) / wall, 1),
        "latency_ms_p50": latency.get("latency_ms_p50"),
        "latency_ms_p99": latency.get("latency_ms_p99"),
        "rss_mb_start": round(rss_start, 1),
        "rss_mb_end": round(rss_end, 1),
        "ws_messages": ws_sent_end - ws_sent_start,
        "ws_dropped": ws_dropped_end - ws_dropped_start,
        "achieved_fps": load.get("achieved_fps"),
        "probes": load.get("probes"),
        "latency_samples": latency.get("latency_samples", 0),
        "latency_ms_max": latency.get("latency_ms_max"),
        "client_messages": latency.get("messages", 0),
        "rx_dropped": dropped_end - dropped_start,
        "socket_drops": (
            drops_end - drops_start if drops_start is not None and drops_end is not None else None
        ),
        "rss_mb_max": round(max(rss_values), 1),
        "load_average": round(load_average, 2),
        "cpu_count": os.cpu_count(),
    }
    if args.seconds >= 120:
        after = [rss for t, rss in rss_samples if t >= 60]
        if after:
            report["rss_mb_after_1min"] = round(after[0], 1)
    if args.server_env:
        report["server_env"] = env
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--buses", type=int, default=1, help="Full buses (1,800 frames/s each).")
    parser.add_argument("--seconds", type=float, default=20.0, help="Load duration (soak: 3600).")
    parser.add_argument("--clients", type=int, default=10, help="WebSocket clients.")
    parser.add_argument("--probe-rate", type=float, default=50.0, help="Probe frames/s.")
    parser.add_argument(
        "--compression",
        default="deflate",
        choices=["deflate", "none"],
        help="Per-message deflate offered by the clients (browsers offer it).",
    )
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="KEY=VALUE", help="Server setting."
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="Start and drain timeout.")
    parser.add_argument(
        "--py-spy", metavar="FILE", help="Profile the server (collapsed stacks; $PY_SPY or py-spy)."
    )
    parser.add_argument("--clients-worker", metavar="URL", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; run the benchmark (or, internally, the clients); print the JSON line."""
    args = _parser().parse_args(argv)
    if args.clients_worker:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        compression = None if args.compression == "none" else args.compression
        _clients_worker(args.clients_worker, args.clients, compression)
        return
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
