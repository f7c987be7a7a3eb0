"""Another node in a separate process on python-can's udp_multicast bus: a moving chassis.

Usage: python -m tests.safety.moving_chassis PORT SECONDS. Every 100 ms it sends
CHASSIS_MOBILITY_STATUS (1FFF4) from the chassis (0xFC) saying 88 km/h, park brake released,
and the status of the slide (SLIDE_STATUS instance 1 from 0x54) and the awning (AWNING_STATUS
instance 1 from 0x82), both stopped and retracted; prints READY after the first round.
"""

from __future__ import annotations

import sys
import time

import can

GROUP = "239.74.163.2"
# 1FFF4 at its default priority 4 from 0xFC: bytes 0-1 engine 1400 rpm (0x2BC0 x 0.125),
# bytes 2-3 speed 88 km/h (0x5800 x 1/256), byte 4 park brake 00b released (other bits 1),
# byte 5 ignition on (01b), bytes 6-7 gear forward 1 (126 = 0x7E).
CHASSIS = (0x11FFF4FC, "C02B0058FCFD7E7E")
SLIDE = (0x19FFE854, "010000FFFFFFFFFF")  # instance 1, no motion, position 0 %
AWNING = (0x19FEF382, "010000FFFFFFFFFF")  # instance 1, no motion, position 0 %


def main(port: int, seconds: float) -> int:
    bus = can.Bus(interface="udp_multicast", channel=GROUP, port=port)
    try:
        deadline = time.monotonic() + seconds
        first = True
        while time.monotonic() < deadline:
            for can_id, data in (CHASSIS, SLIDE, AWNING):
                bus.send(can.Message(arbitration_id=can_id, data=bytes.fromhex(data)))
            if first:
                print("READY", flush=True)
                first = False
            time.sleep(0.1)
        return 0
    finally:
        bus.shutdown()


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), float(sys.argv[2])))
