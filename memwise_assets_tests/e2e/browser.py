"""Headless Chromium driven over the DevTools protocol: open a page, run a script, screenshot.

The Dagster UI is a script-built page whose plots appear only after a click, which the
`--screenshot` flag cannot do; the protocol can (one WebSocket, JSON messages).
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"


class Page:
    """One browser tab: `run` evaluates JavaScript, `screenshot` writes a PNG."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._ids = count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one protocol command and return its result (events in between are skipped)."""
        ident = next(self._ids)
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=120))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def run(self, script: str) -> Any:
        """The value of a JavaScript expression (awaited if it is a promise)."""
        result = self.call(
            "Runtime.evaluate", expression=script, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, script: str, timeout_s: float = 90.0) -> Any:
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.run(script)
            if value:
                return value
            time.sleep(0.5)
        raise TimeoutError(f"not true within {timeout_s} s: {script}")

    def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG."""
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path


@contextmanager
def open_page(url: str, profile: Path, width: int = 1400, height: int = 1800) -> Iterator[Page]:
    """Chromium on a private profile with `url` loaded; stopped (and reaped) on exit."""
    from websockets.sync.client import connect

    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--remote-debugging-port=0",
        f"--window-size={width},{height}",
        "about:blank",
    ]  # fmt: skip
    browser = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or browser.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            tab = next(t for t in json.loads(answer.read()) if t["type"] == "page")
        with connect(tab["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as socket:
            page = Page(socket)
            page.call("Page.enable")
            page.call("Page.navigate", url=url)
            page.wait_for("document.readyState === 'complete'")
            yield page
    finally:
        browser.terminate()
        try:
            browser.wait(20)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait(10)
