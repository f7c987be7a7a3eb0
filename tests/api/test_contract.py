"""The OpenAPI is the contract: schemathesis runs every operation of the real app, all checks.

The app is the one ``create_app`` builds (simulated coach on a virtual bus of its own,
persistence on with SQLite in a temporary directory), served by uvicorn; schemathesis runs as
its own process with a fixed seed and a bounded number of examples per operation.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx
import pytest

from backend.main import create_app
from tests.factories import make_settings
from tests.websocket.harness import running_server

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20261204
EXAMPLES = 10  # per operation and phase


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_whole_openapi_passes_schemathesis_with_all_checks(tmp_path: Path) -> None:
    settings = make_settings(
        can={"interfaces": [f"contract-{os.getpid()}"], "bustype": "virtual"},
        persistence={"enabled": True, "data_dir": str(tmp_path / "data")},
        security={"auth": "required"},
    )
    app = create_app(settings)
    async with running_server(app) as base:
        http_base = base.replace("ws://", "http://")
        # Authentication on, as on a coach's Wi-Fi: schemathesis sends an admin token, and
        # checks that invalid credentials are refused (ignored_auth).
        token, _ = app.state.security.accounts.create_token("contract-test", "admin", motion=True)
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=http_base, headers=auth) as http:
            answer = await http.get("/api/features")
            assert answer.status_code == 200, answer.text
            features = {f["name"]: f["state"] for f in answer.json()["features"]}
            paths = (await http.get("/openapi.json")).json()["paths"]
            operations = sum(len(methods) for methods in paths.values())
        assert features["simulator"] == features["persistence"] == "running", features
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "schemathesis.cli", "--no-color",
            "--config-file", str(CONFIG),
            "run", f"{http_base}/openapi.json",
            "--checks", "all",
            "--seed", str(SEED),
            "--max-examples", str(EXAMPLES),
            "--workers", "1",
            "--generation-database", "none",
            "--request-timeout", "10",
            "--header", f"Authorization: Bearer {token}",
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), 360)
    text = output.decode(errors="replace")
    (tmp_path / "schemathesis.txt").write_text(text, encoding="utf-8")  # the whole report
    assert process.returncode == 0, text[-8000:]
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", text)
    assert selected is not None, text[-4000:]
    assert int(selected.group(1)) == int(selected.group(2)) == operations
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in text, text[-4000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", text)
    assert counts is not None and counts.group(1) == counts.group(2), text[-4000:]
