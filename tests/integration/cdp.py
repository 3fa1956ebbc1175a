"""A small Chrome DevTools Protocol client: headless Chromium, console errors, clicks, screenshots.

Used by the report test to load a Snakemake HTML report the way a person does (a real browser
running the report's JavaScript) and to see what they would see: uncaught exceptions
(``Runtime.exceptionThrown``), ``console.error`` calls, browser log errors, and the page as PNG.
Only the standard library and ``websockets`` (already in the lock) are used. Chromium is started
with the flags that keep it off the network (the report is one offline file).
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--hide-scrollbars", "--window-size=1400,1000"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium with one page; ``errors`` collects every console/JS error seen."""

    def __init__(self, executable: str, start_timeout: float = 60.0):
        self.profile = tempfile.mkdtemp(prefix="cdp-profile-")
        self.proc = subprocess.Popen([executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                                      "--remote-debugging-port=0", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + start_timeout
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"chromium did not start ({executable})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            pages = [t for t in json.load(resp) if t.get("type") == "page"]
        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=20)
        self.ids = itertools.count(1)
        self.errors: list[str] = []
        self.events: list[dict] = []
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")

    # -- protocol
    def _on_event(self, msg: dict) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = params["exceptionDetails"]
            self.errors.append("exception: " + (d.get("exception", {}).get("description") or d.get("text", "")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.errors.append(f"console.{params['type']}: {args}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(f"log: {params['entry'].get('text')} ({params['entry'].get('url', '')})")
        self.events.append(msg)

    def call(self, method: str, timeout: float = 60.0, **params) -> dict:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._on_event(msg)

    def pump(self, seconds: float) -> None:
        """Let the page run for a while, collecting events (React renders asynchronously)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._on_event(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                break

    # -- page helpers
    def open(self, url: str, settle: float = 1.5) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not load")
            self._on_event(json.loads(self.ws.recv(timeout=60)))
        self.pump(settle)

    def js(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluating {expression[:80]!r}: {res['exceptionDetails'].get('text')}")
        return res.get("result", {}).get("value")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def artifact_dir(name: str) -> Path:
    """Where screenshots go: $TEST_ARTIFACTS/<name> (CI keeps it), else test-artifacts/<name>."""
    root = Path(os.environ.get("TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts")
    out = root / name
    out.mkdir(parents=True, exist_ok=True)
    return out


# -- walking a Snakemake HTML report ---------------------------------------------------------------------------------
_HOME = "document.querySelector('nav ol li a').click()"
_LINKS = """Array.from(document.querySelector('nav').querySelectorAll('a'))
  .filter(a => !a.closest('ol') && !a.closest('h1') && (a.innerText || '').trim()
               && !/^(https?:|mailto:)/.test(a.getAttribute('href') || ''))
  .map(a => a.innerText.trim())"""
_CLICK_LINK = """(t => { const a = Array.from(document.querySelector('nav').querySelectorAll('a'))
  .find(a => !a.closest('ol') && !a.closest('h1') && (a.innerText || '').trim() === t);
  if (!a) return false; a.click(); return true; })(%s)"""
_ROWS = """Array.from(document.querySelector('nav').querySelectorAll('tr'))
  .filter(r => r.querySelector('a[iconname=eye]')).map(r => r.innerText.trim().replace(/\\s+/g, ' '))"""
_VIEW_ROW = "document.querySelector('nav').querySelectorAll('tr a[iconname=eye]')[%d].click()"


def _blank(png: Path, left_fraction: float = 0.0) -> bool:
    """True when the page right of the menu is one flat colour (nothing rendered)."""
    from PIL import Image

    with Image.open(png) as img:
        w, h = img.size
        region = img.convert("RGB").crop((int(w * left_fraction), 0, w, h)).resize((200, 150))
        return len(set(region.getdata())) <= 2


def walk_report(browser: Browser, report: Path, shots: Path, settle: float = 1.5) -> dict:
    """Open every menu page of a Snakemake report (categories, subcategories, Workflow/Statistics/About) and view every
    result; a screenshot of each under ``shots``. Returns {"pages": [...], "views": [...], "errors": [...],
    "blank": [...]} where errors are console/JS errors with the page they appeared on."""
    out = {"pages": [], "views": [], "errors": [], "blank": []}
    browser.open(report.resolve().as_uri(), settle=settle + 1.5)
    if browser.errors:
        out["errors"] += [f"(on load) {e}" for e in browser.errors]
    categories = set(browser.js("typeof categories === 'undefined' ? [] : Object.keys(categories)") or [])
    todo = [[t] for t in browser.js(_LINKS)]
    while todo:
        path = todo.pop(0)
        label = " > ".join(path)
        browser.errors.clear()
        browser.js(_HOME)
        browser.pump(0.3)
        for step in path:
            if not browser.js(_CLICK_LINK % json.dumps(step)):
                out["errors"].append(f"{label}: no menu link {step!r}")
                break
            browser.pump(settle)
        slug = "_".join("".join(c if c.isalnum() else "-" for c in p)[:40] for p in path)
        try:
            rows = browser.js(_ROWS) or []
            links = browser.js(_LINKS) or []
        except RuntimeError as exc:  # the menu itself is gone: the page crashed
            rows, links = [], []
            out["errors"].append(f"{label}: {exc}")
        shot = shots / f"{len(out['pages']):02d}_{slug}.png"
        browser.screenshot(shot)
        out["pages"].append({"page": label, "rows": rows, "links": links, "screenshot": str(shot)})
        if not rows and not links and len(path) == 1 and _blank(shot):
            out["blank"].append(label)
        for i, row in enumerate(rows):
            browser.js(_VIEW_ROW % i)
            browser.pump(settle)
            vshot = shots / f"{len(out['pages']) - 1:02d}_{slug}__{i:02d}.png"
            browser.screenshot(vshot)
            out["views"].append({"page": label, "row": row, "screenshot": str(vshot)})
            if _blank(vshot, left_fraction=0.5):
                out["blank"].append(f"{label} > {row}")
        if not rows and len(path) < 3 and path[0] in categories:  # a category's subcategories
            todo += [path + [t] for t in links if t not in path]
        try:  # a caption or description that docutils could not render shows its error on the page
            if "System Message: ERROR" in (browser.js("document.body.innerText") or ""):
                out["errors"].append(f"{label}: a docutils error is shown on the page")
        except RuntimeError:
            pass
        out["errors"] += [f"{label}: {e}" for e in browser.errors]
    return out
