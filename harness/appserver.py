"""A loopback web server for the bundled app (and any static app directory), with a telemetry sink."""

from __future__ import annotations

import functools
import json
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness.errors import EnvironmentProblem


class _Handler(SimpleHTTPRequestHandler):
    server: AppServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: test output is for people

    def end_headers(self) -> None:
        # Never cache: each case must load the app as it is on disk now.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

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


class AppServer(ThreadingHTTPServer):
    """Serves ``root`` on 127.0.0.1 at a free port, in a daemon thread."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        if not (root / "index.html").is_file():
            raise EnvironmentProblem(f"no app at {root} (index.html missing); set app.url in mediafault.yaml "
                                     "or run from a mediafault checkout")
        self.root = root
        self.telemetry: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
        self._thread = threading.Thread(target=self.serve_forever, name="mediafault-app", daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.shutdown()
        self.server_close()
