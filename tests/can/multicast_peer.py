"""Another RV-C node in a separate process, on python-can's udp_multicast bus.

Usage: python -m tests.can.multicast_peer PORT. Sends three DC_SOURCE_STATUS_1 frames from 0x42,
prints READY, then prints ``GOT <id> <data>`` for each DC_DIMMER_COMMAND_2 it receives, and
exits after the first one (or after 10 s).
"""

from __future__ import annotations

import sys
import time

import can

GROUP = "239.74.163.2"


def main(port: int) -> int:
    bus = can.Bus(interface="udp_multicast", channel=GROUP, port=port)
    try:
        for i in range(3):
            data = bytes([1, 0x64, 2 + i, 1, 0, 0x94, 0x35, 0x77])
            bus.send(can.Message(arbitration_id=0x19FFFD42, data=data, is_extended_id=True))
        print("READY", flush=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = bus.recv(0.2)
            if msg is not None and (msg.arbitration_id >> 8) & 0x1FFFF == 0x1FEDB:
                print(f"GOT {msg.arbitration_id:08X} {bytes(msg.data).hex().upper()}", flush=True)
                return 0
        return 1
    finally:
        bus.shutdown()


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
