"""DM_RV fault history: each fault's life in the database, on SQLite and PostgreSQL.

The live tests run the real application on a python-can ``virtual`` bus with persistence on; a
peer bus plays the devices and sends DM_RV frames written out byte by byte (RV-C 3.2.5). They
read what a user reads: ``GET /api/diagnostics/history``, before and after a restart.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import can
import pytest

from backend.services.database_manager import DatabaseManager
from backend.services.fault_history import FaultHistoryWriter
from backend.services.repositories import FaultHistoryRepository, FaultLife
from tests.dashboard.test_diagnostics import (
    GENERATOR_POWER_SUPPLY,
    WATER_HEATER_FAULT,
    WATER_HEATER_OK,
    dm_rv_id,
)
from tests.dashboard.test_live_dashboard import live_dashboard, until

HISTORY = "/api/diagnostics/history"
# The water heater's fault (DSA 101, SPN MSB 01h ISB 02h LSb 1, FMI 0): 19-bit SPN field.
WATER_HEATER_SPN_RAW = 1 << 11 | 2 << 3 | 1
WATER_HEATER_ID = f"101:101:{WATER_HEATER_SPN_RAW}:0"
# The generator's fault (DSA 40h = 64, standard SPN 5, FMI 1).
GENERATOR_ID = "64:64:5:1"


def _message(source: int, data: bytes) -> can.Message:
    return can.Message(arbitration_id=dm_rv_id(source), data=data, is_extended_id=True)


def _sections(data: Path, database: dict[str, Any]) -> dict[str, Any]:
    return {
        "persistence": {"enabled": True, "data_dir": data, "history_flush_interval": 0.05},
        "database": database,
    }


def _by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["fault_id"]: f for f in body["faults"]}


@pytest.mark.slow
async def test_a_fault_appears_clears_and_survives_a_restart(
    tmp_path: Path, database_settings: dict[str, Any]
) -> None:
    """On a SQLite file and on a fresh PostgreSQL database."""
    sections = _sections(tmp_path / "data", database_settings)
    async with live_dashboard(**sections) as (http, peer):
        assert (await http.get(HISTORY)).json()["faults"] == []
        peer.send(_message(0x65, WATER_HEATER_FAULT))
        body = await until(http, HISTORY, lambda b: b["faults"])
        (fault,) = body["faults"]
        assert fault["fault_id"] == WATER_HEATER_ID
        assert fault["active"] is True and fault["cleared_at"] is None
        assert (fault["source"], fault["dsa"], fault["spn"], fault["instance"]) == (101, 101, 9, 2)
        assert (fault["spn_name"], fault["fmi"]) == ("Water Temperature", 0)
        assert fault["fmi_meaning"] == "Datum value above normal range"
        assert fault["occurrence_count"] == 3
        assert (fault["yellow_lamp"], fault["red_lamp"], fault["severity"]) == (
            True,
            False,
            "warning",
        )
        first_seen = fault["first_seen"]
        active = (await http.get("/api/diagnostics")).json()["faults"]
        assert [f["first_seen"] for f in active] == [first_seen]

        # The device reports no fault any more: the life is closed, with when.
        peer.send(_message(0x65, WATER_HEATER_OK))
        body = await until(http, HISTORY, lambda b: not b["faults"][0]["active"])
        (fault,) = body["faults"]
        assert fault["cleared_reason"] == "cleared"
        assert fault["cleared_at"] >= first_seen and fault["first_seen"] == first_seen
        # A second fault (red lamp) stays active while the server stops.
        peer.send(_message(0x40, GENERATOR_POWER_SUPPLY))
        await until(http, HISTORY, lambda b: GENERATOR_ID in _by_id(b))
        status = (await http.get("/api/persistence/status")).json()
        assert status["fault_writer"]["dropped"] == 0
        assert status["fault_writer"]["written"] >= 3

    async with live_dashboard(**sections) as (http, _peer):
        body = (await http.get(HISTORY)).json()
        faults = _by_id(body)
        assert set(faults) == {WATER_HEATER_ID, GENERATOR_ID}
        heater, generator = faults[WATER_HEATER_ID], faults[GENERATOR_ID]
        assert heater["first_seen"] == first_seen and heater["cleared_reason"] == "cleared"
        # The generator's fault was active at the stop: closed at its last-seen time.
        assert generator["active"] is False and generator["cleared_reason"] == "server_stopped"
        assert generator["cleared_at"] == generator["last_seen"]
        assert (generator["spn_name"], generator["severity"]) == ("Node power supply", "critical")
        assert generator["occurrence_count"] is None  # 7Fh: not available
        # Newest first; the filters.
        assert [f["fault_id"] for f in body["faults"]] == [GENERATOR_ID, WATER_HEATER_ID]
        only = (await http.get(HISTORY, params={"source": 101})).json()["faults"]
        assert [f["fault_id"] for f in only] == [WATER_HEATER_ID]
        later = (await http.get(HISTORY, params={"since": heater["cleared_at"] + 0.001})).json()
        assert [f["fault_id"] for f in later["faults"]] == [GENERATOR_ID]
        assert (await http.get(HISTORY, params={"active": "true"})).json()["faults"] == []
        assert len((await http.get(HISTORY, params={"limit": 1})).json()["faults"]) == 1


async def test_bad_filters_answer_422_naming_the_field(tmp_path: Path) -> None:
    async with live_dashboard(**_sections(tmp_path / "data", {})) as (http, _peer):
        # An until before since is a valid, empty window (the OpenAPI cannot forbid it).
        response = await http.get(HISTORY, params={"since": 200, "until": 100})
        assert response.status_code == 200 and response.json()["faults"] == []
        for params, field in (
            ({"source": 256}, "query.source"),
            ({"limit": 0}, "query.limit"),
            ({"since": "yesterday"}, "query.since"),
            ({"active": "maybe"}, "query.active"),
            ({"until": -1}, "query.until"),
        ):
            response = await http.get(HISTORY, params=params)
            assert response.status_code == 422, params
            assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_without_persistence_the_history_answers_503() -> None:
    async with live_dashboard(persistence={"enabled": False}) as (http, _peer):
        response = await http.get(HISTORY)
        assert response.status_code == 503
        assert "persistence" in response.json()["detail"]


def _life(**changes: Any) -> FaultLife:
    values: dict[str, Any] = {
        "fault_id": "70:70:300:2",
        "source": 70,
        "dsa": 70,
        "spn_raw": 300,
        "fmi": 2,
        "first_seen": 1000.0,
        "last_seen": 1000.0,
        "occurrence_count": 1,
        "yellow_lamp": True,
    }
    return FaultLife(**(values | changes))


async def test_repository_lives_window_close_and_prune(database: DatabaseManager) -> None:
    async with database.get_session() as session:
        repository = FaultHistoryRepository(session)
        await repository.record(_life())
        await repository.record(
            _life(fault_id="71:71:301:2", source=71, first_seen=2000.0, last_seen=2050.0)
        )
        # The first one clears with its last count; a late duplicate does not reopen it.
        await repository.record(
            _life(last_seen=1500.0, occurrence_count=4, cleared_at=1510.0, cleared_reason="cleared")
        )
        await repository.record(_life(last_seen=1600.0, occurrence_count=5))
    async with database.get_session() as session:
        repository = FaultHistoryRepository(session)
        first, second = await repository.query(since=0)
        assert (first.fault_id, first.cleared_at) == ("71:71:301:2", None)
        assert (second.cleared_at, second.cleared_reason) == (1510.0, "cleared")
        assert (second.occurrence_count, second.last_seen) == (4, 1500.0)
        assert [f.source for f in await repository.query(since=1511.0)] == [71]
        assert [f.source for f in await repository.query(until=1999.0)] == [70]
        assert [f.source for f in await repository.query(active=False)] == [70]
        assert await repository.prune(before=1511.0) == 1  # the active one is kept
        assert await repository.close_open() == 1
        (left,) = await repository.query()
        assert (left.cleared_at, left.cleared_reason) == (2050.0, "server_stopped")


async def test_the_writer_queue_is_bounded_and_counts_drops(database: DatabaseManager) -> None:
    writer = FaultHistoryWriter(database, queue_size=10, flush_interval=60)
    record = {
        "fault_id": "70:70:300:2",
        "source": 70,
        "dsa": 70,
        "spn_raw": 300,
        "fmi": 2,
        "occurrence_count": 1,
        "yellow_lamp": True,
        "red_lamp": False,
        "entities": [{"entity_id": "light.a", "name": "A"}],
        "last_seen": 0.0,
    }
    for n in range(15):
        t = time.time() + n
        writer.on_diagnostic({"active": True, "fault": {**record, "first_seen": t, "last_seen": t}})
    assert (writer.received, writer.dropped, writer.stats()["queued"]) == (15, 5, 10)
    assert await writer.flush() == 10
    async with database.get_session() as session:
        lives = await FaultHistoryRepository(session).query(limit=100)
    assert len(lives) == 10 and lives[0].entities == ("light.a",)


async def test_a_fault_raised_and_cleared_between_two_writes_is_one_closed_life(
    database: DatabaseManager,
) -> None:
    writer = FaultHistoryWriter(database, flush_interval=60, clock=lambda: 1234.0)
    record = {
        "fault_id": "72:72:301:5",
        "source": 72,
        "dsa": 72,
        "spn_raw": 301,
        "fmi": 5,
        "occurrence_count": 2,
        "red_lamp": True,
        "yellow_lamp": False,
        "entities": [],
        "first_seen": 1200.0,
        "last_seen": 1200.0,
    }
    writer.on_diagnostic({"type": "diagnostic_fault", "active": True, "fault": record})
    cleared = {**record, "occurrence_count": 3, "last_seen": 1230.0}
    writer.on_diagnostic({"type": "diagnostic_fault", "active": False, "fault": cleared})
    assert await writer.flush() == 2
    async with database.get_session() as session:
        (life,) = await FaultHistoryRepository(session).query()
    assert (life.first_seen, life.last_seen, life.occurrence_count) == (1200.0, 1230.0, 3)
    assert (life.cleared_at, life.cleared_reason, life.red_lamp) == (1234.0, "cleared", True)


# The water heater's fault reported with the red lamp lit as well (byte 0: red 01b << 6).
WATER_HEATER_FAULT_RED = bytes([0x55, *WATER_HEATER_FAULT[1:]])


async def test_the_history_keeps_a_red_lamp_the_fault_showed_before_it_went_back(
    tmp_path: Path,
) -> None:
    """Yellow, then red, then yellow again: the live view shows yellow, the history red, both
    for a fault that cleared and for one still active when the server stopped."""
    sections = _sections(tmp_path / "data", {})
    async with live_dashboard(**sections) as (http, peer):
        for frame in (WATER_HEATER_FAULT, WATER_HEATER_FAULT_RED, WATER_HEATER_FAULT):
            peer.send(_message(0x65, frame))
            red = frame[0] >> 6 == 1
            live = await until(
                http,
                "/api/diagnostics",
                lambda b, red=red: (
                    [(f["red_lamp"], f["yellow_lamp"]) for f in b["faults"]] == [(red, True)]
                ),
            )
        assert live["faults"][0]["severity"] == "warning"  # yellow only now
        peer.send(_message(0x65, WATER_HEATER_OK))
        body = await until(http, HISTORY, lambda b: b["faults"] and not b["faults"][0]["active"])
        (fault,) = body["faults"]
        assert (fault["red_lamp"], fault["yellow_lamp"], fault["severity"]) == (
            True,
            True,
            "critical",
        )
        # The same again, left active when the server stops.
        for frame in (WATER_HEATER_FAULT, WATER_HEATER_FAULT_RED, WATER_HEATER_FAULT):
            peer.send(_message(0x65, frame))
            red = frame[0] >> 6 == 1
            await until(
                http,
                "/api/diagnostics",
                lambda b, red=red: [f["red_lamp"] for f in b["faults"]] == [red],
            )
    async with live_dashboard(**sections) as (http, _peer):
        second, first = (await http.get(HISTORY)).json()["faults"]
        assert second["cleared_reason"] == "server_stopped" and first["cleared_reason"] == "cleared"
        assert (second["red_lamp"], second["severity"]) == (True, "critical")
