"""Browser tests: a real CoachIQ server (the simulated coach) and Debian's headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 375, "height": 812}
LAPTOP = {"width": 1366, "height": 900}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives Debian's headless Chromium against a server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``coachiq serve`` in a subprocess (the README's run command) on a free port."""

    def __init__(
        self,
        port: int,
        log: Path,
        env: dict[str, str] | None = None,
        ready: Callable[[Server], bool] | None = None,
    ):
        self.port = port
        self.env = dict(env or {})
        self.ready = ready or _coach_reporting
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COACHIQ_")}
        env.update({"COACHIQ_SERVER__PORT": str(self.port), "COACHIQ_LOGGING__LEVEL": "WARNING"})
        env.update(self.env)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from backend.cli.main import main; main()", "serve"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
                if self.ready(self):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"server did not come up: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _coach_reporting(server: Server) -> bool:
    """The simulated coach is up: at least 20 entities report."""
    entities = httpx.get(f"{server.base_url}/api/entities", timeout=1).json()
    return isinstance(entities, list) and sum(e["available"] for e in entities) >= 20


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        reason = "Debian's chromium package is not installed (apt-get install -y chromium)"
        if os.environ.get("COACHIQ_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}; COACHIQ_REQUIRE_SERVICES=1 (CI) does not allow skipping")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def server(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    instance = Server(_free_port(), tmp_path_factory.mktemp("server") / "server.log")
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def browser(chromium_path: str):
    # Module scope: Playwright's sync API runs an event loop in this thread while it is open,
    # which must be gone before the asyncio tests of other modules run.
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


class PageFactory:
    """New pages at a viewport size; every request URL is recorded and checked afterwards."""

    def __init__(self, browser, server: Server):
        self.browser = browser
        self.server = server
        self.contexts: list = []
        self.urls: list[str] = []

    def __call__(
        self,
        viewport: dict[str, int] = LAPTOP,
        theme: str = "light",
        setup: Callable[[Any], None] | None = None,
    ):
        """A new page at ``viewport``; ``setup(page)`` runs before it loads (routes, scripts)."""
        context = self.browser.new_context(viewport=viewport, color_scheme=theme)
        self.contexts.append(context)
        page = context.new_page()
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("websocket", lambda ws: self.urls.append(ws.url))
        if setup is not None:
            setup(page)
        page.goto(self.server.base_url + "/")
        return page

    def foreign_requests(self) -> list[str]:
        """Every recorded URL that is not this server's (data: URLs stay in the page)."""
        own = f"127.0.0.1:{self.server.port}"
        return [u for u in self.urls if not u.startswith("data:") and urlsplit(u).netloc != own]

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def open_page(browser, server: Server) -> Iterator[PageFactory]:
    factory = PageFactory(browser, server)
    yield factory
    factory.close()
    assert factory.urls, "the page made no request at all"
    assert factory.foreign_requests() == []


def screenshot(page, name: str) -> None:
    """Write tests/artifacts/<name>.png (git-ignored) for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


@asynccontextmanager
async def dashboard_page(chromium_path: str, base_url: str) -> AsyncIterator[Any]:
    """The dashboard of an in-process app (``http://`` ``base_url``) in headless Chromium, with
    Playwright's async API (for tests that also read the app's bus), once its socket is live."""
    async_api = pytest.importorskip("playwright.async_api")
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_FLAGS
        )
        try:
            page = await browser.new_page(viewport=LAPTOP)
            await page.goto(base_url + "/")
            await async_api.expect(page.locator("#conn")).to_have_attribute("data-state", "live")
            yield page
        finally:
            await browser.close()
