"""A real ``coachiq serve`` with authentication required, and the ``coachiq`` command line."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import ROOT, Server

LIGHT = "light.galley_ceiling"


def cli(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    """Run ``coachiq ...`` as a user would, against ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACHIQ_")}
    env["COACHIQ_PERSISTENCE__DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-c", "from backend.cli.main import main; main()", *args],
        cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout.strip()


class SecureServer(Server):
    """``coachiq serve`` with COACHIQ_SECURITY__AUTH=required; readiness read with a token."""

    def __init__(self, port: int, log: Path, data_dir: Path, token: str):
        super().__init__(
            port,
            log,
            {"COACHIQ_SECURITY__AUTH": "required", "COACHIQ_PERSISTENCE__DATA_DIR": str(data_dir)},
        )
        self.headers = {"Authorization": f"Bearer {token}"}

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COACHIQ_")}
        env.update({"COACHIQ_SERVER__PORT": str(self.port), "COACHIQ_LOGGING__LEVEL": "WARNING"})
        env.update(self.env)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from backend.cli.main import main; main()", "serve"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()[-2000:]
            with contextlib.suppress(httpx.HTTPError):
                url = f"{self.base_url}/api/entities/{LIGHT}"
                if httpx.get(url, headers=self.headers, timeout=1).json().get("available"):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"server did not come up: {self.log_path.read_text()[-2000:]}")
