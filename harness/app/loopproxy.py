"""A forward HTTP proxy on loopback that only knows ``app.test``: it maps ``app.test:PORT`` to
``127.0.0.1:PORT``. Browsers without a host-resolver switch (WebKitGTK) reach the insecure-origin page
through it. Any other host is refused, so nothing leaves the machine.
"""

from __future__ import annotations

import http.client
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from harness.app.server import INSECURE_HOST

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "trailer"}


class _Proxy(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _forward(self) -> None:
        target = urlsplit(self.path)
        if target.hostname not in (INSECURE_HOST, "127.0.0.1", "localhost") or not target.port:
            self.send_error(HTTPStatus.FORBIDDEN, "mediafault's proxy only serves app.test and loopback")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
        try:
            conn.request(self.command, target.path + (f"?{target.query}" if target.query else ""), body, headers)
            reply = conn.getresponse()
            data = reply.read()
        except OSError as exc:
            self.send_error(HTTPStatus.BAD_GATEWAY, str(exc))
            return
        finally:
            conn.close()
        self.send_response(reply.status, reply.reason)
        for key, value in reply.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_HEAD = _forward  # noqa: N815 - stdlib naming


class LoopProxy(ThreadingHTTPServer):
    """The proxy, on 127.0.0.1 at a free port, in a daemon thread."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Proxy)
        threading.Thread(target=self.serve_forever, name="mediafault-proxy", daemon=True).start()

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        """Stop and release the port."""
        self.shutdown()
        self.server_close()
