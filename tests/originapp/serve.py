"""A small app that only works on its own origin, for proving that mediafault leaves the origin alone: it
sets a cookie, is called by a second origin's CORS check, registers a service worker and opens a websocket.

Run as its own process: ``python serve.py [--tls] [--break WHAT]``. It prints one JSON line with the app's
and the API's URLs, then serves on 127.0.0.1 until it is terminated. ``--tls`` serves https with a
certificate from a CA of its own (no browser trusts it); ``--break cookie|cors|sw|ws`` breaks that one
thing, so a test can show the check fails when the app is wrong. The page is sent gzip-encoded and chunked
whatever the client asked for, and with a Content-Security-Policy that allows only its own nonce'd inline
script.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import ssl
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
NONCE = "originapp1"


class AppHandler(BaseHTTPRequestHandler):
    """The app's origin: the page, its script, the service worker, /whoami and the websocket."""

    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(self, status: int, kind: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        broken = self.server.broken
        if path in ("/", "/index.html"):
            self._page()
        elif path == "/app.js":
            self._send(200, "text/javascript", (HERE / "app.js").read_bytes())
        elif path == "/sw.js":
            self._send(200, "text/plain" if broken == "sw" else "text/javascript", (HERE / "sw.js").read_bytes())
        elif path == "/whoami":
            cookies = dict(part.strip().split("=", 1) for part in self.headers.get("Cookie", "").split(";")
                           if "=" in part)
            self._send(200, "text/plain", cookies.get("mfsession", "").encode())
        elif path == "/ws" and broken != "ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
        else:
            self._send(404, "text/plain", b"not found")

    def _page(self) -> None:
        text = (HERE / "index.html").read_text(encoding="utf-8")
        body = gzip.compress(text.replace("NONCE", NONCE).replace("__API__", self.server.api_origin).encode())
        secure = "; Secure" if self.server.tls else ""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", f"script-src 'self' 'nonce-{NONCE}'")
        if self.server.broken != "cookie":
            self.send_header("Set-Cookie", f"mfsession=s3cr3t; Path=/; SameSite=Lax{secure}")
        self.end_headers()
        for at in range(0, len(body), 100):
            piece = body[at:at + 100]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")

    def _websocket(self) -> None:
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        while True:
            frame = _read_frame(self.rfile)
            if frame is None or frame[0] == 0x8:  # closed, or a close frame
                return
            if frame[0] == 0x1 and frame[1] == b"ping":
                self.wfile.write(b"\x81\x04pong")
                self.wfile.flush()


def _read_frame(stream: Any) -> tuple[int, bytes] | None:
    head = stream.read(2)
    if len(head) < 2:
        return None
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack(">H", stream.read(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", stream.read(8))[0]
    mask = stream.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(stream.read(length)))
    return head[0] & 0x0F, payload


class ApiHandler(BaseHTTPRequestHandler):
    """The second origin: answers the CORS check for the app's origin only."""

    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        origin = self.headers.get("Origin", "")
        body = json.dumps({"origin": origin}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if origin == self.server.app_origin and self.server.broken != "cors":
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    """One of the two origins."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None, broken: str) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.tls = tls
        self.broken = broken
        self.app_origin = ""
        self.api_origin = ""
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    @property
    def origin(self) -> str:
        """``scheme://127.0.0.1:port``."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server_address[1]}"


def main() -> None:
    """Start both origins, print their URLs, serve until terminated."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--break", dest="broken", choices=["cookie", "cors", "sw", "ws"], default="")
    args = parser.parse_args()
    tls = None
    if args.tls:
        import trustme

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
        tls = context
    app, api = Server(AppHandler, tls, args.broken), Server(ApiHandler, tls, args.broken)
    for server in (app, api):
        server.app_origin, server.api_origin = app.origin, api.origin
    threading.Thread(target=api.serve_forever, daemon=True).start()
    print(json.dumps({"app": app.origin + "/", "api": api.origin + "/"}), flush=True)
    app.serve_forever()


if __name__ == "__main__":
    main()
