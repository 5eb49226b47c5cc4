"""Headless Chromium over the DevTools protocol, and a local server for a built site.

Just enough of the protocol for the browser test, `benchmarks/page_weight.py` and `benchmarks/prose.py`:
open a page, click, evaluate JavaScript, and read back what happened (requests with their transferred bytes,
console messages, uncaught exceptions). The browser is Debian's `chromium` (no browser download);
the protocol runs over one websocket (`websocket-client`).
"""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--no-proxy-server"]


def find_chromium() -> str | None:
    """The Chromium to drive: $CHROMIUM, else the first of the usual names on PATH."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


class CDPError(RuntimeError):
    pass


@dataclass
class Request:
    url: str
    type: str = ""
    status: int | None = None
    bytes: int = 0  # transferred (encoded body + headers), as DevTools' "transferred" column
    failed: str = ""
    done: bool = False
    worker: bool = False  # a worker's own script: its end is reported in the worker, if at all


@dataclass
class Visit:
    """What happened between `Browser.mark()` and `Browser.visit()`: one page load or navigation."""

    url: str
    requests: list[Request] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    exceptions: list[str] = field(default_factory=list)

    @property
    def transferred(self) -> int:
        return sum(r.bytes for r in self.requests)

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and warnings, failed or 4xx/5xx requests."""
        out = [f"exception: {e}" for e in self.exceptions]
        out += [f"console.{level}: {text}" for level, text in self.console if level in {"error", "warning", "assert"}]
        out += [f"request failed ({r.failed}): {r.url}" for r in self.requests if r.failed]
        out += [f"HTTP {r.status}: {r.url}" for r in self.requests if r.status and r.status >= 400]
        return out


class Browser:
    """One headless Chromium with one tab, driven synchronously over the DevTools protocol."""

    def __init__(self, executable: str | None = None, *, width: int = 1280, height: int = 900,
                 timeout: float = 30.0):
        import websocket  # websocket-client

        executable = executable or find_chromium()
        if executable is None:
            raise FileNotFoundError("no Chromium found (apt-get install chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="figgen-chromium-")
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = self._devtools_port()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.load(r)
            page = next(t for t in targets if t["type"] == "page")
            # No Origin header: Chromium refuses websocket clients from other origins.
            self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], suppress_origin=True,
                                                  timeout=timeout, http_no_proxy=["127.0.0.1"])
        except BaseException:
            self.close()
            raise
        self._id = 0
        self._events: list[dict] = []
        self._mark = 0
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(f"{domain}.enable")
        # Workers (the search index's) fetch too; their sessions share this websocket.
        self.call("Target.setAutoAttach", autoAttach=True, waitForDebuggerOnStart=False, flatten=True)

    def _devtools_port(self) -> int:
        active = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Chromium exited with code {self.proc.returncode}")
            if active.is_file() and (lines := active.read_text().split()):
                return int(lines[0])
            time.sleep(0.05)
        raise TimeoutError("Chromium did not open its DevTools port within 30 s")

    # -- protocol ------------------------------------------------------------------------------
    def _receive(self, timeout: float) -> dict | None:
        import websocket

        self.ws.settimeout(max(timeout, 0.001))
        try:
            message = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        if "id" not in message:
            self._events.append(message)
            if message.get("method") == "Target.attachedToTarget":  # a worker: watch its requests too
                self._send("Network.enable", session=message["params"]["sessionId"])
                self._send("Runtime.enable", session=message["params"]["sessionId"])
                self._send("Runtime.runIfWaitingForDebugger", session=message["params"]["sessionId"])
        return message

    def _send(self, method: str, session: str | None = None, **params) -> int:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        return self._id

    def call(self, method: str, **params):
        ident = self._send(method, **params)
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self._receive(left)
            if message is not None and message.get("id") == ident:
                if "error" in message:
                    raise CDPError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})
        raise TimeoutError(f"{method}: no answer within {self.timeout} s")

    def pump(self, seconds: float) -> None:
        """Read events for `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._receive(left)

    def evaluate(self, expression: str, *, await_promise: bool = False):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=await_promise)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float | None = None, *, until_error: bool = False) -> bool:
        """Poll a JavaScript expression until it is truthy (reading events meanwhile). With
        `until_error`, give up early once the current visit has an error (it will not render)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            try:
                if self.evaluate(expression):
                    return True
            except CDPError:  # the page is being replaced (navigation): try again
                pass
            if until_error and self.visit().errors():
                self.pump(0.5)  # let related messages arrive
                return False
            self.pump(0.1)
        return False

    # -- pages ---------------------------------------------------------------------------------
    def mark(self) -> None:
        """Start recording a visit: later events belong to it."""
        self._mark = len(self._events)

    def goto(self, url: str) -> None:
        self.mark()
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def settle(self, quiet: float = 0.5, timeout: float | None = None) -> None:
        """Wait until no request has been in flight for `quiet` seconds."""
        deadline = time.monotonic() + (timeout or self.timeout)
        last, pending = time.monotonic(), []
        while time.monotonic() < deadline:
            before = len(self._events)
            self.pump(0.1)
            if len(self._events) != before:
                last = time.monotonic()
            pending = [r.url for r in self._requests().values() if not (r.done or r.worker)]
            if not pending and time.monotonic() - last >= quiet:
                return
        raise TimeoutError(f"network not idle: {pending}")

    def _requests(self) -> dict[str, Request]:
        requests: dict[str, Request] = {}
        length: dict[str, int] = {}  # Content-Length by request (the headers can come first)
        for e in self._events[self._mark:]:
            method, p = e.get("method"), e.get("params", {})
            rid = p.get("requestId")
            if method == "Network.requestWillBeSent":
                if p["request"]["url"].startswith(("data:", "blob:")):  # inline: nothing travels
                    continue
                if rid in requests and p.get("redirectResponse"):  # a redirect: keep both hops
                    requests[f"{rid}#{len(requests)}"] = requests.pop(rid)
                worker = p.get("type") == "Script" and p.get("initiator", {}).get("type") == "other"
                requests[rid] = Request(p["request"]["url"], p.get("type", ""), worker=worker)
            elif method in {"Network.responseReceived", "Network.responseReceivedExtraInfo"}:
                headers = (p.get("response") or p).get("headers", {})
                size = next((v for k, v in headers.items() if k.lower() == "content-length"), None)
                length[rid] = int(size) if size is not None and str(size).isdigit() else 0
                if method == "Network.responseReceived" and rid in requests:
                    requests[rid].status = p["response"]["status"]
            elif method == "Network.loadingFinished" and rid in requests:
                requests[rid].bytes = int(p.get("encodedDataLength", 0))
                requests[rid].done = True
            elif method == "Network.loadingFailed" and rid in requests:
                requests[rid].failed, requests[rid].done = p.get("errorText", "failed"), True
        # A worker's own script is reported half in the page and half in the worker's session
        # (attached too late to see it finish, or not at all when it comes from the cache): its
        # size is never taken as less than its Content-Length.
        for rid, r in requests.items():
            r.bytes = max(r.bytes, length.get(rid, 0))
        return requests

    def visit(self) -> Visit:
        """Everything recorded since the last `mark()`/`goto()`."""
        try:
            url = self.evaluate("location.href") or ""
        except CDPError:  # between two documents
            url = ""
        visit = Visit(url, list(self._requests().values()))
        for e in self._events[self._mark:]:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                visit.console.append((p["type"], text))
            elif method == "Log.entryAdded":
                entry = p["entry"]
                visit.console.append((entry["level"], f"{entry.get('text', '')} {entry.get('url', '')}".strip()))
            elif method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                visit.exceptions.append(d.get("exception", {}).get("description") or d.get("text", ""))
        return visit

    def viewport(self, width: int | None = None, height: int = 900) -> None:
        """Lay the page out at `width` × `height` CSS px (DevTools' device emulation); None: the window's own."""
        if width is None:
            self.call("Emulation.clearDeviceMetricsOverride")
        else:
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                      mobile=False)

    def screenshot(self, path: str | Path) -> None:
        import base64

        Path(path).write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            try:
                ws.close()
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, no request log; with `compress`, text files go out gzip-compressed when the
    browser accepts it (as GitHub Pages serves them)."""

    compress = False
    TEXT = (".html", ".css", ".js", ".json", ".svg", ".xml", ".txt", ".map")

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not self.path.split("?", 1)[0].endswith("/"):
                return super().do_GET()  # the base class redirects to the folder's URL with its "/"
            path = path / "index.html"
        if not (self.compress and path.suffix in self.TEXT and path.is_file()
                and "gzip" in self.headers.get("Accept-Encoding", "")):
            return super().do_GET()
        body = gzip.compress(path.read_bytes(), mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SiteServer:
    """A built site on http://127.0.0.1:PORT/. The port is bound on creation (so a build can be
    told its own URL first); requests are answered from `start()` to `stop()`."""

    def __init__(self, port: int = 0, *, compress: bool = False):
        self.directory: Path | None = None
        self.handler = type("Handler", (_Handler,), {"compress": compress})
        handler = functools.partial(self.handler, directory=os.devnull)  # replaced by start()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread: threading.Thread | None = None

    def start(self, directory: str | Path) -> str:
        self.directory = Path(directory)
        self.httpd.RequestHandlerClass = functools.partial(self.handler, directory=str(self.directory))
        if self._thread is None:
            self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
            self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread = None
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


#: True once every chart on the page is drawn (an SVG or canvas inside each .figgen-vega) and every
#: arithmatex element holds KaTeX's output (or its error, which the browser test reports).
RENDERED = """(() => {
  const charts = [...document.querySelectorAll('.figgen-vega')];
  const math = [...document.querySelectorAll('.arithmatex')];
  return charts.every((el) => el.querySelector('.figgen-vega-chart svg, .figgen-vega-chart canvas'))
      && math.every((el) => el.querySelector('.katex, .katex-error'));
})()"""


def site_pages(site: str | Path) -> list[str]:
    """Every page of a built site as a URL path ('', 'tokenization/tokenizer/', …); 404.html is no page."""
    site = Path(site)
    paths = (p.parent.relative_to(site).as_posix() for p in site.rglob("index.html"))
    return sorted("" if path == "." else path + "/" for path in paths)


#: What a reader reads on a page, measured in its article as rendered (evaluated in the page). "Reader
#: text" is the text of the article that is laid out: text inside a collapsed <details> (but its <summary>),
#: in a figure or chart, in code blocks (<pre>) and notebook code cells (their outputs too), and anything not displayed (a badge's
#: working before hover, KaTeX's MathML copy) is left out. Each block (paragraph, list item, cell, heading …)
#: is read on its own, so no match runs from one into the next. Returns the matches themselves
#: (`sci`: numbers in scientific notation, `decimals`: numbers with four or more decimals, `seed`: the word),
#: the claim badges (`badges`: each badge's status, `inline_badges`: those inside a sentence, i.e. a <p> or <li>
#: with text of its own besides badges), the word count of the reader text and the page's height in px.
PROSE = r"""(() => {
  const article = document.querySelector('article.md-content__inner') || document.querySelector('article')
    || document.body;
  const SKIP = 'figure, .figgen-vega, svg, script, style, pre, .jp-CodeCell, .katex-mathml, .md-clipboard';
  const BLOCK = 'p, li, td, th, dt, dd, h1, h2, h3, h4, h5, h6, summary, caption, figcaption, blockquote, '
    + 'details, div, section, article';
  const collapsed = (el) => {
    for (let d = el.closest('details'); d; d = d.parentElement && d.parentElement.closest('details')) {
      if (!d.open) {
        const s = el.closest('summary');
        if (!s || s.parentElement !== d) return true;
      }
    }
    return false;
  };
  const shown = (el) => !collapsed(el) && !el.closest(SKIP) && el.getClientRects().length > 0
    && (!el.checkVisibility || el.checkVisibility({visibilityProperty: true}));
  const blocks = new Map();
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !node.data.trim() || !shown(el)) continue;
    const block = el.closest(BLOCK) || article;
    blocks.set(block, (blocks.get(block) || '') + node.data);
  }
  const texts = [...blocks.values()].map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean);
  const find = (re) => texts.flatMap((t) => [...t.matchAll(re)].map((m) => {
    const a = Math.max(0, m.index - 40), b = Math.min(t.length, m.index + m[0].length + 40);
    return t.slice(a, b);
  }));
  const badges = [...article.querySelectorAll('.figgen-claim')].filter((b) => !collapsed(b) && !b.closest(SKIP));
  const inline = badges.filter((b) => {
    const host = b.parentElement && b.parentElement.closest('p, li');
    if (!host) return false;
    let own = host.textContent;
    host.querySelectorAll('.figgen-claim').forEach((x) => { own = own.replace(x.textContent, ''); });
    return /[\p{L}\p{N}]/u.test(own);
  });
  const status = (b) => ((b.querySelector('.figgen-claim__status') || b).textContent || '').trim();
  const context = (b) => {  // the words around the badge, the badge as [badge]
    const text = b.parentElement.closest('p, li').textContent, at = text.indexOf(b.textContent);
    return (text.slice(Math.max(0, at - 80), at) + '[badge]' + text.slice(at + b.textContent.length).slice(0, 40))
      .replace(/\s+/g, ' ').trim();
  };
  return {
    sci: find(/(?<![\w.])[−+-]?\d+(?:\.\d+)?[eE][−+-]?\d+(?!\d)|\d\s?×\s?10[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+/g),
    decimals: find(/(?<![\w.])\d*\.\d{4,}(?!\d)/g),
    seed: find(/\bseeds?\b/gi),
    badges: badges.map(status),
    inline_badges: inline.map(context),
    words: texts.reduce((n, t) => n + t.split(' ').filter((w) => /[\p{L}\p{N}]/u.test(w)).length, 0),
    height: document.documentElement.scrollHeight,
  };
})()"""

#: Whether the article's content fits its column (evaluated in the page): the article's width, the widest
#: box shown in it (and which), the Claims list's own width (`.figgen-claims`: its scrollWidth, what it would take
#: without a scroll box), the page's width against the window's, and its height.
FIT = r"""(() => {
  const article = document.querySelector('article.md-content__inner') || document.querySelector('article');
  const box = article.getBoundingClientRect();
  let widest = {width: 0, what: ''};
  for (const el of article.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    // Inside a collapsed <details> a box may keep a layout it does not show: only what is shown counts.
    if (!r.width || !el.getClientRects().length || (el.checkVisibility && !el.checkVisibility())) continue;
    const width = Math.max(r.width, el.scrollWidth || 0, r.right - box.left);
    if (width > widest.width) {
      widest = {width: Math.round(width), what: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '')};
    }
  }
  const claims = [...article.querySelectorAll('.figgen-claims')];
  return {
    article: Math.round(box.width),
    widest: widest.width, widest_element: widest.what,
    claims: Math.max(0, ...claims.map((el) => Math.max(el.scrollWidth, ...[...el.querySelectorAll('table')]
      .map((t) => t.scrollWidth)))),
    page: document.documentElement.scrollWidth, window: window.innerWidth,
    height: document.documentElement.scrollHeight,
  };
})()"""
