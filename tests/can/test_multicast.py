"""End to end with another process on udp_multicast: received, counted, sniffed, and sent."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.can.conftest import wait_for
from tests.can.test_api import running_app

GROUP = "239.74.163.2"
ROOT = Path(__file__).resolve().parents[2]


async def test_frames_cross_between_processes() -> None:
    port = 44000 + os.getpid() % 1000  # distinct per test process
    async with running_app(
        interfaces=GROUP, bustype="udp_multicast", bus_options={"port": port}
    ) as (client, service):
        await wait_for(lambda: service.status()["state"] == "up")
        await wait_for(lambda: service.interfaces_status()[0]["address_claim"] == "claimed")
        peer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.can.multicast_peer",
            str(port),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert peer.stdout is not None
            line = await asyncio.wait_for(peer.stdout.readline(), 10)
            assert line.strip() == b"READY"
            # Received from the other process: counted and sniffed, once each.
            await wait_for(lambda: len(service.sniffer_records(10, {"dgn": 0x1FFFD})) == 3)
            sniffed = service.sniffer_records(10, {"dgn": 0x1FFFD})
            assert [r["data"][4:6] for r in sniffed] == ["04", "03", "02"]  # newest first
            assert all(r["direction"] == "rx" and r["source"] == 0x42 for r in sniffed)

            response = await client.post(
                "/api/can/send", json={"can_id": "19FEDBF9", "data": "2AFFC800FF00FFFF"}
            )
            assert response.status_code == 202, response.text
            line = await asyncio.wait_for(peer.stdout.readline(), 10)
            assert line.strip() == b"GOT 19FEDBF9 2AFFC800FF00FFFF"
            assert await asyncio.wait_for(peer.wait(), 10) == 0
        finally:
            if peer.returncode is None:
                peer.kill()
                await peer.wait()

        # Our own frame comes back over multicast: recorded once, as tx, never as rx.
        await wait_for(lambda: service.interfaces_status()[0]["echo_suppressed"] >= 1)
        records = service.sniffer_records(100, {"dgn": 0x1FEDB})
        assert [r["direction"] for r in records] == ["tx"]
        per_dgn = {d["dgn"]: d for d in service.statistics()["dgns"]}
        assert per_dgn["1FEDB"]["tx"] == 1
        assert per_dgn["1FEDB"]["rx"] == 0
        assert per_dgn["1FFFD"]["rx"] == 3


async def test_a_malformed_datagram_is_counted_and_dropped_never_a_reconnect() -> None:
    import socket

    from backend.integrations.can.multicast import is_local

    port = 45000 + os.getpid() % 1000
    async with running_app(
        interfaces=GROUP, bustype="udp_multicast", bus_options={"port": port}
    ) as (client, service):
        await wait_for(lambda: service.status()["state"] == "up")
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
            for _ in range(3):
                sender.sendto(b"\x00not a packed CAN message", (GROUP, port))
        finally:
            sender.close()
        status = await wait_for(
            lambda: service.interfaces_status()[0]["datagrams"]["malformed"] == 3
        )
        interface = service.interfaces_status()[0]
        assert interface["state"] == "up" and interface["reconnects"] == 0, status
        assert interface["datagrams"] == {"loopback": True, "malformed": 3, "foreign": 0}
        # and frames still flow afterwards
        response = await client.post("/api/can/send", json={"can_id": "19FEDBF9", "data": "00"})
        assert response.status_code == 202
    assert is_local("127.0.0.1") and is_local("::1") and not is_local("203.0.113.9")
