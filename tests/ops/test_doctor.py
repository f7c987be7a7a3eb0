"""``coachiq doctor`` against real buses: virtual, udp_multicast (another process), a replay, and
faults made on purpose (no frames, a wrong bitrate, an address conflict, a full data directory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import can
import pytest

from backend.integrations.can import message_factory as mf
from backend.ops.doctor import DoctorOptions, Report, run_doctor
from tests.can.conftest import unique_channel
from tests.factories import make_settings
from tests.persistence.test_full_disk import fill, tiny_filesystem  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
COACHIQ = Path(sys.executable).with_name("coachiq")
GROUP = "239.74.163.9"
INTRUDER = mf.ClaimName(serial_number=7, manufacturer_code=99, arbitrary_address_capable=False)


def _command(*args: str) -> list[str]:
    if COACHIQ.exists():
        return [str(COACHIQ), *args]
    return [sys.executable, "-c", "from backend.cli.main import main; main()", *args]


def _environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACHIQ_")}
    env.update({"COACHIQ_SERVER__PORT": "1", **values})  # no server there: nothing answers
    return env


def _doctor_cli(*args: str, **env: str) -> tuple[int, str, str]:
    result = subprocess.run(
        _command("doctor", *args), cwd=REPO, env=_environment(**env),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def _by_check(report: dict[str, Any] | Report) -> dict[str, dict[str, Any]]:
    body = report.to_dict() if isinstance(report, Report) else report
    return {finding["check"]: finding for finding in body["findings"]}


def _options(**values: Any) -> DoctorOptions:
    values.setdefault("seconds", 1.5)
    values.setdefault("server_url", "http://127.0.0.1:1")
    values.setdefault("ntp_synchronized", lambda: True)
    return DoctorOptions(**values)


@contextmanager
def _node(channel: str, claims: dict[int, mf.ClaimName], frames: list[tuple[int, bytes]],
          period: float = 0.05) -> Iterator[None]:  # fmt: skip
    """Devices on a virtual bus: broadcast ``frames`` every ``period`` and answer a REQUEST for
    ADDRESS_CLAIMED with an ADDRESS_CLAIMED from each address in ``claims``."""
    bus = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
    stop = threading.Event()

    def run() -> None:
        next_send = 0.0
        while not stop.is_set():
            msg = bus.recv(timeout=0.01)
            asked = (
                msg is not None
                and (msg.arbitration_id >> 16) & 0xFF == 0xEA
                and mf.requested_dgn(bytes(msg.data)) == mf.DGN_ADDRESS_CLAIMED
            )
            if asked:
                for address, name in claims.items():
                    bus.send(mf.make_message(*mf.address_claimed(name, address)))
            if time.monotonic() >= next_send:
                for arbitration_id, data in frames:
                    bus.send(mf.make_message(arbitration_id, data))
                next_send = time.monotonic() + period

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        bus.shutdown()


def _date_time_now() -> bytes:
    """DATE_TIME_STATUS data for now in UTC (time zone byte 0: Greenwich)."""
    now = time.gmtime()
    return bytes([now.tm_year - 2000, now.tm_mon, now.tm_mday, (now.tm_wday + 1) % 7 + 1,
                  now.tm_hour, now.tm_min, now.tm_sec, 0])  # fmt: skip


# The galley light of the default mapping is DC_DIMMER_STATUS_3 instance 2 (0x83 sends it);
# instance 77 is in no mapping.
MAPPED = (0x19FEDA83, bytes.fromhex("02FF50FCFF00FFFF"))
UNMAPPED = (0x19FEDA84, bytes.fromhex("4DFF50FCFF00FFFF"))
DATE_TIME = 0x19FFFF85


def test_virtual_bus_traffic_addresses_mapping_and_time() -> None:
    channel = unique_channel("doctor")
    settings = make_settings(can={"interfaces": [channel]})
    others = {0x83: mf.ClaimName(serial_number=1), 0x84: mf.ClaimName(serial_number=2)}
    with _node(channel, others, [MAPPED, UNMAPPED, (DATE_TIME, _date_time_now())]):
        report = run_doctor(settings, _options())
    found = _by_check(report)
    bus = found[f"bus:{channel}"]
    assert bus["status"] == "OK", bus
    assert bus["details"]["frames"] > 10
    assert bus["details"]["sources"] == ["0x83", "0x84", "0x85"]
    address = found[f"address:{channel}"]
    assert address["status"] == "OK"
    assert "other nodes claim 0x83, 0x84" in address["summary"]
    mapping = found["mapping"]
    assert mapping["status"] == "WARN"
    assert mapping["details"]["unmapped"] == ["DC_DIMMER_STATUS_3 instance 77"]
    assert "light.galley_ceiling" in mapping["details"]["seen"]
    assert found["time"]["status"] == "OK"
    assert abs(found["time"]["details"]["skew_seconds"]) < 5
    assert report.exit_code == 0


def test_address_conflict_from_a_second_node() -> None:
    channel = unique_channel("doctor")
    # The intruder claims 249, CoachIQ's SOURCE_ADDRESS, with a static (higher priority) NAME.
    dynamic = make_settings(can={"interfaces": [channel]})
    with _node(channel, {0xF9: INTRUDER}, []):
        report = run_doctor(dynamic, _options())
    address = _by_check(report)[f"address:{channel}"]
    assert address["status"] == "WARN"
    assert (
        "address 249 (COACHIQ_CAN__SOURCE_ADDRESS) is claimed by another node"
        in (address["summary"])
    )
    assert f"{INTRUDER.value:016X}" in address["summary"]

    static = make_settings(can={"interfaces": [channel], "address_claiming": False})
    with _node(channel, {0xF9: INTRUDER}, []):
        report = run_doctor(static, _options())
    address = _by_check(report)[f"address:{channel}"]
    assert address["status"] == "FAIL"
    assert "COACHIQ_CAN__ADDRESS_CLAIMING=true" in address["action"]
    assert report.exit_code == 1


def test_replay_of_a_log(tmp_path: Path) -> None:
    log = tmp_path / "coach.log"
    lines = [f"({1700000000 + i * 0.01:.6f}) can0 19FEDA83#02FF50FCFF00FFFF" for i in range(50)]
    log.write_text("\n".join(lines) + "\n")
    channel = f"replay:{log}"
    settings = make_settings(can={"interfaces": [channel]}, features={"enable_simulator": False})
    report = run_doctor(settings, _options(seconds=1.0))
    found = _by_check(report)
    bus = found[f"bus:{channel}"]
    assert bus["status"] == "OK", bus
    assert bus["details"]["bustype"] == "replay"
    assert bus["details"]["frames"] == 50
    assert found[f"address:{channel}"]["summary"].endswith("a replay; address claims not asked")
    assert found["mapping"]["status"] == "OK"
    assert found["mapping"]["details"]["seen"] == ["light.galley_ceiling"]


def test_no_frames_on_udp_multicast_fails_and_exits_1() -> None:
    port = str(45500 + os.getpid() % 400)
    code, out, _ = _doctor_cli(
        "--json", "--seconds", "1.5",
        COACHIQ_CAN__BUSTYPE="udp_multicast", COACHIQ_CAN__INTERFACES=GROUP,
        COACHIQ_CAN__BUS_OPTIONS=json.dumps({"port": int(port)}),
    )  # fmt: skip
    assert code == 1
    bus = _by_check(json.loads(out))[f"bus:{GROUP}"]
    assert bus["status"] == "FAIL"
    assert bus["summary"] == f"{GROUP}: no frames in 1.5 s"


@pytest.mark.slow
def test_udp_multicast_with_the_simulated_coach_in_another_process() -> None:
    port = 45000 + os.getpid() % 400
    options = json.dumps({"port": port})
    simulator = subprocess.Popen(
        _command("simulate", "--bustype", "udp_multicast", "--channel", GROUP,
                 "--bus-options", options, "--duration", "60"),
        cwd=REPO, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        time.sleep(3)  # the simulated nodes claim their addresses and start broadcasting
        code, out, err = _doctor_cli(
            "--json", "--seconds", "4",
            COACHIQ_CAN__BUSTYPE="udp_multicast", COACHIQ_CAN__INTERFACES=GROUP,
            COACHIQ_CAN__BUS_OPTIONS=options,
        )  # fmt: skip
    finally:
        simulator.terminate()
        simulator.wait(10)
        if simulator.stdout is not None:
            simulator.stdout.close()
    body = json.loads(out)
    found = _by_check(body)
    bus = found[f"bus:{GROUP}"]
    assert bus["status"] == "OK", (bus, err)
    assert len(bus["details"]["sources"]) >= 5
    address = found[f"address:{GROUP}"]
    assert len(address["details"]["other_claims"]) >= 5
    assert found["mapping"]["details"]["entities_seen"] > 10
    assert found["time"]["details"].get("coach_time")  # the simulator's DATE_TIME_STATUS
    assert found["time"]["status"] == "OK"
    assert code == 0, out


def test_default_settings_print_json_findings() -> None:
    code, out, err = _doctor_cli("--json", "--seconds", "1")
    assert err == ""
    body = json.loads(out)
    assert body["status"] in ("OK", "WARN")
    statuses = {finding["status"] for finding in body["findings"]}
    assert statuses <= {"OK", "WARN", "FAIL"}
    assert {"config", "bitrate", "bus:virtual0", "disk", "memory", "server"} <= set(_by_check(body))
    assert code == 0


def test_missing_socketcan_interface_is_named_and_fails() -> None:
    code, out, _ = _doctor_cli(
        "--seconds", "1", COACHIQ_CAN__BUSTYPE="socketcan", COACHIQ_CAN__INTERFACES="can9"
    )
    assert code == 1
    assert "FAIL  link:can9" in out
    assert "can9: no such network interface" in out


def test_wrong_bitrate_setting_fails_naming_the_variable() -> None:
    code, out, _ = _doctor_cli("--json", "--seconds", "1", COACHIQ_CAN__BITRATE="500000")
    assert code == 1
    bitrate = _by_check(json.loads(out))["bitrate"]
    assert bitrate["status"] == "FAIL"
    assert bitrate["summary"] == (
        "COACHIQ_CAN__BITRATE is 500000 bit/s, but RV-C buses run at 250000 bit/s"
    )
    assert bitrate["action"].startswith("set COACHIQ_CAN__BITRATE=250000")


def test_full_data_directory_fails(tiny_filesystem) -> None:  # noqa: F811
    data = tiny_filesystem("64k") / "data"
    data.mkdir()
    fill(data.parent)
    settings = make_settings(
        can={"interfaces": [unique_channel("doctor")]},
        persistence={"enabled": True, "data_dir": data},
    )
    report = run_doctor(settings, _options(seconds=0.5))
    disk = _by_check(report)["disk"]
    assert disk["status"] == "FAIL"
    assert disk["summary"].endswith("the disk is full")
    assert "journalctl --vacuum-size" in disk["action"]
    assert report.exit_code == 1


def test_bad_settings_are_findings_not_tracebacks() -> None:
    code, out, err = _doctor_cli("--json", "--seconds", "1", COACHIQ_SERVER__PORT="70000")
    assert code == 1
    assert "Traceback" not in out + err
    config = _by_check(json.loads(out))["config"]
    assert config["status"] == "FAIL"
    assert config["summary"].startswith("COACHIQ_SERVER__PORT:")


def test_seconds_out_of_range_is_one_line() -> None:
    code, _out, err = _doctor_cli("--seconds", "0")
    assert code == 2
    assert err.strip() == "--seconds: must be 0.5-60 (got 0)"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _intruder(port: int) -> Iterator[None]:
    """A second node on udp_multicast that takes address 249 with a static NAME and answers
    every REQUEST for ADDRESS_CLAIMED."""
    bus = can.Bus(interface="udp_multicast", channel=GROUP, port=port)
    stop = threading.Event()
    claim = mf.make_message(*mf.address_claimed(INTRUDER, 0xF9))

    def run() -> None:
        bus.send(claim)
        while not stop.is_set():
            msg = bus.recv(timeout=0.05)
            if (
                msg is not None
                and (msg.arbitration_id >> 16) & 0xFF == 0xEA
                and mf.requested_dgn(bytes(msg.data)) == mf.DGN_ADDRESS_CLAIMED
            ):
                bus.send(claim)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        bus.shutdown()


@pytest.mark.slow
def test_running_server_gives_way_to_a_second_node_and_the_doctor_says_so(tmp_path: Path) -> None:
    bus_port = 45900 + os.getpid() % 90
    http_port = _free_port()
    bus_env = {
        "COACHIQ_CAN__BUSTYPE": "udp_multicast",
        "COACHIQ_CAN__INTERFACES": GROUP,
        "COACHIQ_CAN__BUS_OPTIONS": json.dumps({"port": bus_port}),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            _command("serve", "--port", str(http_port)), cwd=REPO,
            env=_environment(**bus_env, COACHIQ_LOGGING__LEVEL="WARNING"),
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{http_port}"
    try:
        import httpx

        def claimed() -> int | None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert server.poll() is None, log.read_text()[-2000:]
                try:
                    interfaces = httpx.get(f"{base}/api/can/interfaces", timeout=2).json()
                    first = interfaces["interfaces"][0]
                    if first["address_claim"] == "claimed":
                        return first["source_address"]
                except (httpx.HTTPError, KeyError, IndexError):
                    pass
                time.sleep(0.2)
            return None

        assert claimed() == 249
        with _intruder(bus_port):
            deadline = time.monotonic() + 20
            while claimed() != 248 and time.monotonic() < deadline:
                time.sleep(0.2)
            code, out, err = _doctor_cli("--json", "--seconds", "2", "--url", base, **bus_env)
    finally:
        server.terminate()
        server.wait(20)
    found = _by_check(json.loads(out))
    assert found["server"]["status"] == "OK", found["server"]
    address = found[f"address:{GROUP}"]
    assert address["status"] == "WARN", (address, err)
    assert address["details"]["coachiq_holds"] == [248]
    assert "CoachIQ gives way and claims a lower address (it holds 248)" in address["summary"]
    assert address["details"]["other_claims"] == {"0xF9": [f"{INTRUDER.value:016X}"]}
    assert code == 0
