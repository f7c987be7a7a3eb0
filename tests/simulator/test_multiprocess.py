"""The simulator in a second process over udp_multicast: the coach is seen and answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import can

from backend.integrations.rvc.decoder import Decoder

GROUP = "239.74.163.71"
PORT = 43971


def test_coach_in_second_process_over_udp_multicast(decoder: Decoder) -> None:
    options = json.dumps({"port": PORT})
    cmd = [sys.executable, "-m", "backend.cli.main", "simulate", "--bustype", "udp_multicast"]
    cmd += ["--channel", GROUP, "--bus-options", options, "--duration", "15"]
    bus = can.Bus(interface="udp_multicast", channel=GROUP, port=PORT)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wanted = {"DC_DIMMER_STATUS_3", "TANK_STATUS", "THERMOSTAT_STATUS_1"}
        names: set[str | None] = set()
        sources: set[int] = set()
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and not (wanted <= names and len(sources) >= 8):
            msg = bus.recv(0.5)
            if msg is None:
                continue
            decoded = decoder.decode(msg.arbitration_id, bytes(msg.data))
            names.add(decoded.name)
            sources.add(decoded.source)
        assert wanted <= names
        assert len(sources) >= 8
        # A command from "the server" (SA F9): light 3 to 60 %, confirmed by its status.
        bus.send(
            can.Message(
                arbitration_id=0x19FEDBF9,
                data=bytes.fromhex("03FF780000FCFFFF"),
                is_extended_id=True,
            )
        )
        confirmed = False
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not confirmed:
            msg = bus.recv(0.5)
            if msg is None:
                continue
            decoded = decoder.decode(msg.arbitration_id, bytes(msg.data))
            confirmed = (
                decoded.name == "DC_DIMMER_STATUS_3"
                and decoded.instance == 3
                and decoded.signals["operating_status_brightness"] == 60
            )
        assert confirmed
    finally:
        proc.terminate()
        proc.wait(10)
        bus.shutdown()
