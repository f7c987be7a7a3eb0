"""The dashboard with authentication required, in headless Chromium: it logs in, works and logs
out; a page served from another local port can neither open the WebSocket nor POST a command."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import LAPTOP, _free_port, screenshot
from tests.security.live import SecureServer, cli

pytestmark = pytest.mark.e2e
EXPECT_MS = 10_000
PASSWORD = "a long coach passphrase"
LIGHT = "light.galley_ceiling"


def expect():
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=EXPECT_MS)
    return playwright_expect


@pytest.fixture(scope="module")
def secure_server(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecureServer]:
    data = tmp_path_factory.mktemp("secure-data")
    cli(data, "users", "add", "admin", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    token = cli(data, "tokens", "create", "e2e", "--role", "admin").splitlines()[-1]
    log = tmp_path_factory.mktemp("secure-server") / "server.log"
    instance = SecureServer(_free_port(), log, data, token)
    instance.start()
    yield instance
    instance.stop()


EVIL_PAGE = """<!doctype html><title>evil</title><script>
window.results = {};
const target = "127.0.0.1:%(port)d";
const ws = new WebSocket(`ws://${target}/ws/entities`);
ws.onopen = () => { window.results.ws = "open"; };
ws.onerror = () => { window.results.ws = "error"; };
ws.onclose = () => { window.results.ws = window.results.ws || "closed"; };
fetch(`http://${target}/api/entities/%(light)s/command`, {
  method: "POST", mode: "no-cors", credentials: "include",
  headers: {"Content-Type": "text/plain"},
  body: JSON.stringify({command: "set", state: "on", brightness: 7}),
}).then(() => { window.results.post = "sent"; }, () => { window.results.post = "failed"; });
</script>"""


@pytest.fixture
def evil_site(secure_server: SecureServer) -> Iterator[str]:
    """A page served from another local port that tries to drive the coach."""
    page = (EVIL_PAGE % {"port": secure_server.port, "light": LIGHT}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_dashboard_logs_in_works_and_logs_out_and_another_port_cannot_drive_it(
    browser, secure_server: SecureServer, evil_site: str
) -> None:
    context = browser.new_context(viewport=LAPTOP)
    try:
        page = context.new_page()
        page.goto(secure_server.base_url + "/")
        form = page.locator("#login-form")
        expect()(form).to_be_visible()
        expect()(page.locator("main")).to_be_hidden()
        screenshot(page, "security-login")
        page.fill("input[name=name]", "admin")
        page.fill("input[name=password]", "wrong password!")
        page.click("#login-form button[type=submit]")
        expect()(page.get_by_test_id("login-error")).to_contain_text("wrong name or password")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button[type=submit]")
        expect()(page.locator("#conn")).to_have_attribute("data-state", "live")
        expect()(page.get_by_test_id("whoami")).to_have_text("admin (admin)")
        expect()(page.get_by_test_id(f"entity-{LIGHT}")).to_be_visible()

        # The admin creates a token in the dashboard; it is shown once and works.
        page.click("a[data-view=security]")
        page.fill("#token-form input[name=name]", "from-dashboard")
        page.click("#token-form button[type=submit]")
        secret = page.get_by_test_id("token-secret")
        expect()(secret).to_contain_text("ciq_")
        headers = {"Authorization": f"Bearer {secret.text_content()}"}
        assert (
            httpx.get(f"{secure_server.base_url}/api/entities", headers=headers).status_code == 200
        )
        screenshot(page, "security-tokens")

        # Another local port, with the owner logged in in the same browser: refused.
        before = httpx.get(
            f"{secure_server.base_url}/api/entities/{LIGHT}", headers=secure_server.headers
        ).json()
        evil = context.new_page()
        evil.goto(evil_site)
        evil.wait_for_function("window.results.ws && window.results.post", timeout=EXPECT_MS)
        assert evil.evaluate("window.results.ws") != "open"
        time.sleep(0.5)
        after = httpx.get(
            f"{secure_server.base_url}/api/entities/{LIGHT}", headers=secure_server.headers
        ).json()
        assert after["last_command_result"] == before["last_command_result"]
        audit = httpx.get(
            f"{secure_server.base_url}/api/security/audit",
            params={"event": "refused_origin"},
            headers=secure_server.headers,
        ).json()["entries"]
        targets = {entry["target"] for entry in audit}
        assert {"WS /ws/entities", f"POST /api/entities/{LIGHT}/command"} <= targets

        # Log out: back to the login form, and the cookie no longer opens the API.
        page.click("#logout")
        expect()(page.locator("#login-form")).to_be_visible()
        status = page.evaluate("fetch('/api/entities').then(r => r.status)")
        assert status == 401
    finally:
        context.close()
