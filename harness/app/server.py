"""Loopback web servers for the app under test: plain http, https with the harness's own CA, the
pages that embed the app in a cross-origin iframe, and a telemetry sink.

Everything listens on 127.0.0.1 only, unless a run on a Selenium Grid on another machine names one of this
machine's addresses that the Grid's nodes reach (the serve address). On loopback, ``localhost`` and
``127.0.0.1`` are different origins, which is what the iframe pages rely on; ``insecure.mediafault.test`` is mapped to
127.0.0.1 inside the browser for the insecure origin case.
"""

from __future__ import annotations

import functools
import html
import json
import ssl
import tempfile
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness.core.errors import EnvironmentProblem

EMBED_PATH = "/__mediafault/embed"
INJECT_PARAM = "__mf"  # a case token: HTML served with it gets that case's scripts first in <head>
INSECURE_HOST = "insecure.mediafault.test"  # the harness's own name: no one else's app uses it
_EMPTY = Path(tempfile.gettempdir())
# The port each (host, scheme) last listened on in this process: a server started after another stopped takes
# it again where it is free, so the origins browsers were started with (Firefox's site permissions file)
# still hold for the next app (mediafault variants serves each variant in turn).
_LAST_PORT: dict[tuple[str, str], int] = {}


def embed_page(src: str, allow: bool) -> str:
    """A partner page that embeds the app in an iframe (with or without allow="microphone")."""
    allow_attr = ' allow="microphone"' if allow else ""
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>Partner site embedding the app</title>"
        "<style>body{font:14px system-ui;margin:16px}iframe{width:100%;height:640px;border:1px solid #888}</style>"
        "</head><body><p>Partner site (another origin) embedding the app"
        f"{' with allow=&quot;microphone&quot;' if allow else ' without allow=&quot;microphone&quot;'}:</p>"
        f'<iframe src="{html.escape(src, quote=True)}"{allow_attr}></iframe></body></html>'
    )


class _Handler(SimpleHTTPRequestHandler):
    server: AppServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: test output is for people

    def end_headers(self) -> None:
        # Never cache: each case must load the app as it is on disk now.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _html(self, text: str) -> None:
        body = text.encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def translate_path(self, path: str) -> str:
        # A mounted directory (the installed SDKs under /sdk/) is served like the root, with the same guard
        # against paths that climb out of it.
        for prefix, base in self.server.mounts.items():
            if urlsplit(path).path.startswith(prefix):
                original = self.directory
                self.directory = str(base)
                try:
                    return super().translate_path(path[len(prefix) - 1:])
                finally:
                    self.directory = original
        return super().translate_path(path)

    def do_GET(self) -> None:
        # A proxy (WebKit's insecure-origin route) sends absolute URIs; serve them like local paths.
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        script = self.server.injections.get(query.get(INJECT_PARAM, [""])[0])
        if parts.path == EMBED_PATH:
            page = embed_page(query.get("src", [""])[0], query.get("allow", ["0"])[0] == "1")
            self._html(inject(page, script) if script else page)
            return
        if self.server.root is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        file = self.server.root / (parts.path.lstrip("/") or "index.html")
        if script and file.suffix == ".html" and file.is_file():
            self._html(inject(file.read_text(encoding="utf-8"), script))
            return
        super().do_GET()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1_000_000)).decode("utf-8", "replace")
        if self.path.split("?")[0].rstrip("/").endswith("/telemetry"):
            try:
                record = json.loads(body)
            except json.JSONDecodeError:
                record = {"raw": body}
            with self.server.lock:
                self.server.telemetry.append(record)
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
            return
        self.send_error(HTTPStatus.NOT_FOUND)


def inject(page: str, script: str) -> str:
    """``page`` with ``script`` as the first thing in <head>, so it runs before the page's own scripts."""
    tag = f"<script>{script}</script>"
    at = page.lower().find("<head>")
    if at >= 0:
        return page[: at + 6] + tag + page[at + 6 :]
    return tag + page


class AppServer(ThreadingHTTPServer):
    """Serves ``root`` (or only the embed pages when None) on ``host`` (127.0.0.1 unless a remote Grid's nodes
    need another address of this machine) at a free port, in a daemon thread.

    ``mounts`` serves more directories under URL prefixes (``{"/sdk/": Path("tools/sdk/node_modules")}``):
    what a page needs that does not live in its own folder.
    """

    daemon_threads = True

    def __init__(self, root: Path | None, tls: ssl.SSLContext | None = None,
                 mounts: dict[str, Path] | None = None, host: str = "127.0.0.1") -> None:
        if root is not None and not (root / "index.html").is_file():
            raise EnvironmentProblem(f"no app at {root} (index.html missing); set app.url or app.dir in "
                                     "mediafault.yaml, or run from a mediafault checkout")
        self.root = root
        self.scheme = "https" if tls else "http"
        self.telemetry: list[dict[str, Any]] = []
        self.injections: dict[str, str] = {}
        self.mounts = {("/" + prefix.strip("/") + "/"): path for prefix, path in (mounts or {}).items()}
        self.lock = threading.Lock()
        self.host = host
        handler = functools.partial(_Handler, directory=str(root or _EMPTY))
        last = _LAST_PORT.get((host, self.scheme))
        try:
            super().__init__((host, last or 0), handler)
        except OSError:
            if not last:
                raise
            super().__init__((host, 0), handler)  # taken meanwhile: any free port will do
        _LAST_PORT[(host, self.scheme)] = self.port
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, name=f"mediafault-{self.scheme}", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server_address[1])

    def url(self, host: str | None = None) -> str:
        """``scheme://host:port``: ``host`` is a name of the address it listens on (default: that address)."""
        return f"{self.scheme}://{host or self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.shutdown()
        self.server_close()


def self_signed_context(*hosts: str) -> ssl.SSLContext:
    """A server TLS context with a certificate for 127.0.0.1, localhost, the insecure host and ``hosts`` from a
    fresh CA."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost", INSECURE_HOST, *hosts)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context
