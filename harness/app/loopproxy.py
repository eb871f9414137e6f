"""A forward proxy on loopback for browsers that cannot install init scripts (the Selenium routes).

It does two jobs and nothing else:

- maps ``insecure.mediafault.test:PORT`` to ``127.0.0.1:PORT``, so WebKitGTK (no host-resolver switch) reaches the
  insecure-origin page;
- when a run names its app by URL (``app.url``), forwards that host:port and puts the current case's
  scripts first in the app's HTML responses, so the observer, shim and telemetry recorder run before the
  app's own scripts while the app keeps its own origin (cookies, CORS, service workers, dev-server
  websockets see the same origin as without mediafault). An https app is reached through a CONNECT
  tunnel that the proxy terminates with a certificate from a per-run CA, then re-originates to the app.

An app given by URL that a case needs at another origin (https in front of an http dev server, or a host
name that is not local) is reached through an :class:`AppFront`: a reverse proxy on loopback that forwards
to the app's URL only, with the app's own Host header, its TLS certificate from the same per-run CA.

Everything else is passed through unchanged: other responses, websockets (``Upgrade``) and CONNECT
tunnels are relayed byte for byte. Only the app's host:port and loopback are forwarded; any other host
gets a 403 with a plain reason, so nothing leaves the machine.

For a Selenium Grid on another machine the proxy listens on the serve address instead of loopback (the nodes'
browsers are configured with it), and then forwards to loopback only the ports the run opened for it: the
harness's own servers and fronts, and the app's port. Nothing else on this machine's loopback is reachable
through it.

WebKitGTK applies a manual proxy to loopback URLs too (GLib's simple proxy resolver has no implicit
bypass list; measured: ``http://127.0.0.1:P/`` and ``http://localhost:P/`` both arrive here). Chromium
bypasses loopback unless its bypass list says ``<-loopback>`` (see the chromedriver options).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import http.client
import ipaddress
import re
import select
import socket
import ssl
import sys
import threading
import zlib
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from harness.app.server import INSECURE_HOST

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "trailer",
              "proxy-authorization", "proxy-authenticate"}
LOOPBACK = {"127.0.0.1", "localhost", "::1", INSECURE_HOST}
TIMEOUT = 30.0
CHUNK = 65536
_META_CSP = re.compile(rb"<meta\b[^>]*http-equiv\s*=\s*['\"]?content-security-policy['\"]?[^>]*>", re.IGNORECASE)
_CONTENT = re.compile(rb"""(\bcontent\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_HEAD = re.compile(rb"<head\b[^>]*>", re.IGNORECASE)
_HTML = re.compile(rb"<html\b[^>]*>", re.IGNORECASE)
_DOCTYPE = re.compile(rb"^\s*(<!doctype[^>]*>)", re.IGNORECASE)


@dataclass(frozen=True)
class Origin:
    """The app's scheme, host and port."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of an http(s) URL."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        return cls(scheme, parts.hostname.lower(), parts.port or (443 if scheme == "https" else 80))

    @property
    def url(self) -> str:
        """``scheme://host:port``."""
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass
class Rewrite:
    """What rewriting one HTML response did."""

    body: bytes
    csp_meta: int = 0  # <meta> policies that got the script's hash


def script_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def allow_inline(policy: str, source: str) -> str:
    """``policy`` changed only as far as needed for one inline script with hash ``source`` to run.

    The directive that governs inline <script> elements (script-src-elem, else script-src, else
    default-src) gets the hash added. A directive that already allows inline scripts ('unsafe-inline'
    without any nonce, hash or 'strict-dynamic', which would disable it) is left alone: adding a hash
    there would turn 'unsafe-inline' off for the app's own scripts.
    """
    out = []
    for one in policy.split(","):
        directives = [d.strip() for d in one.split(";") if d.strip()]
        names = [d.split()[0].lower() for d in directives]
        for name in ("script-src-elem", "script-src", "default-src"):
            if name in names:
                at = names.index(name)
                values = directives[at].split()[1:]
                lowered = [v.lower() for v in values]
                keyed = any(v.startswith(("'nonce-", "'sha")) or v == "'strict-dynamic'" for v in lowered)
                if "'unsafe-inline'" not in lowered or keyed:
                    values = [v for v in values if v.lower() != "'none'"] + [source]
                    directives[at] = " ".join([directives[at].split()[0], *values])
                break
        out.append("; ".join(directives))
    return ", ".join(out)


def ascii_script(script: str) -> str:
    """``script`` with every non-ASCII character as a JS escape, so it reads the same in a page of any
    ASCII-compatible charset (the proxy never re-encodes the app's bytes)."""
    out = []
    for char in script:
        if ord(char) < 128:
            out.append(char)
        else:
            units = char.encode("utf-16-be")
            out.extend(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}" for i in range(0, len(units), 2))
    return "".join(out)


def insert_script(page: bytes, script: str) -> Rewrite:
    """``page`` with ``script`` as the first thing in <head> (after <html> or the doctype when there is no
    <head>), so it runs before the page's own scripts; CSP <meta> tags get the script's hash.

    Works on the bytes (any ASCII-compatible charset); ``script`` must be ASCII (:func:`ascii_script`).
    """
    source = script_hash(script).encode()
    metas = 0

    def patch_meta(match: re.Match[bytes]) -> bytes:
        nonlocal metas
        metas += 1
        return _CONTENT.sub(lambda m: m.group(1) + m.group(2) + allow_inline(m.group(3).decode("latin-1"),
                            source.decode()).encode("latin-1") + m.group(2), match.group(0), count=1)

    page = _META_CSP.sub(patch_meta, page)
    tag = b"<script>" + script.encode("ascii") + b"</script>"
    for pattern in (_HEAD, _HTML, _DOCTYPE):
        found = pattern.search(page)
        if found:
            return Rewrite(page[: found.end()] + tag + page[found.end():], metas)
    return Rewrite(tag + page, metas)


def decode_body(data: bytes, encoding: str) -> bytes | None:
    """``data`` without its Content-Encoding (gzip, deflate, identity); None for one this cannot undo."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(data)
    if encoding == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return zlib.decompress(data, -zlib.MAX_WBITS)  # raw deflate, as some servers send it
    return None


class ProxyHandler(BaseHTTPRequestHandler):
    """One browser connection: absolute-URI requests, CONNECT tunnels and, inside a terminated tunnel,
    origin-form requests to the app."""

    server: LoopProxy
    protocol_version = "HTTP/1.1"  # keep-alive with the browser: a dev server's many modules load faster
    tunnel: Origin | None = None  # set inside a tunnel this proxy terminated

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def setup(self) -> None:
        # WebKitWebDriver turns the sslProxy capability into an https:// proxy URL, so WebKitGTK speaks TLS
        # to the proxy itself before its CONNECT; a TLS handshake's first byte is 0x16, an HTTP method's never.
        with contextlib.suppress(OSError):
            if self.request.recv(1, socket.MSG_PEEK) == b"\x16":
                self.request = self.server.tls_for("127.0.0.1").wrap_socket(self.request, server_side=True)
        super().setup()

    def refuse(self, host: str) -> None:
        """403 with a reason people can read (the browser shows it as the page)."""
        body = self.server.refusal(host).encode()
        self.send_response(HTTPStatus.FORBIDDEN)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_CONNECT(self) -> None:
        host, _, port_text = self.path.rpartition(":")
        host = host.strip("[]").lower()
        if not port_text.isdigit() or not self.server.allows(host, int(port_text)):
            self.refuse(self.path)
            return
        port = int(port_text)
        app = self.server.app
        if app is not None and app.scheme == "https" and (host, port) == (app.host, app.port):
            self._terminate(app)
            return
        try:
            upstream = socket.create_connection((self.server.resolve(host), port), timeout=TIMEOUT)
        except OSError as exc:
            self.send_error(HTTPStatus.BAD_GATEWAY, f"cannot reach {self.path}: {exc}")
            return
        self.send_response(HTTPStatus.OK, "Connection Established")
        self.end_headers()
        self.wfile.flush()
        _relay(self.connection, upstream)
        self.close_connection = True

    def _terminate(self, app: Origin) -> None:
        """Answer the tunnel as the app (certificate from the per-run CA), then serve the requests in it."""
        self.send_response(HTTPStatus.OK, "Connection Established")
        self.end_headers()
        self.wfile.flush()
        inner = self.connection
        if isinstance(inner, ssl.SSLSocket):
            # The tunnel runs inside TLS to the proxy (WebKit): relay it to a socket pair and terminate
            # the app's TLS on the other end, since Python cannot wrap a TLS socket in TLS again.
            near, inner = socket.socketpair()
            threading.Thread(target=_relay, args=(self.connection, near), daemon=True).start()
        try:
            tls = self.server.tls_for(app.host).wrap_socket(inner, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        self.connection = tls
        self.rfile = tls.makefile("rb")
        self.wfile = tls.makefile("wb")  # flushed after each request, and per chunk when streaming
        self.tunnel = app
        self.close_connection = False
        while not self.close_connection:
            self.handle_one_request()
        self.close_connection = True

    def _target(self) -> tuple[str, str, int, str] | None:
        """(scheme, host, port, path) of the request, or None after refusing it."""
        if self.tunnel is not None:
            return self.tunnel.scheme, self.tunnel.host, self.tunnel.port, self.path
        parts = urlsplit(self.path)
        # WebKitGTK sends a websocket's handshake to the proxy as "GET ws://host:port/path".
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if scheme == "https" else 80)
        if scheme not in ("http", "https") or not self.server.allows(host, port):
            self.refuse(parts.netloc or self.path)
            return None
        return scheme, host, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _forward(self) -> None:
        target = self._target()
        if target is None:
            return
        scheme, host, port, path = target
        origin = Origin(scheme, host, port)
        script = self.server.script if origin == self.server.app else None
        if "upgrade" in self.headers.get("Connection", "").lower():
            self._upgrade(origin, path)
            return
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        if script is not None and "text/html" in self.headers.get("Accept", ""):
            # A page the proxy may have to rewrite: ask for it unencoded (it still decodes gzip and deflate).
            headers = [(k, v) for k, v in headers if k.lower() != "accept-encoding"] + [("Accept-Encoding", "identity")]
        body = self._request_body()
        conn = self.server.upstream(origin)
        try:
            conn.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
            for key, value in headers:
                conn.putheader(key, value)
            if body is not None and not any(k.lower() == "content-length" for k, _ in headers):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            reply = conn.getresponse()
        except OSError as exc:
            conn.close()
            self.send_error(HTTPStatus.BAD_GATEWAY, f"cannot reach {origin.url}: {exc}")
            return
        try:
            kind = reply.getheader("Content-Type", "")
            if script is not None and self.command != "HEAD" and "text/html" in kind.lower() and reply.status == 200:
                self._rewritten(reply, script)
            else:
                self._passed(reply)
        finally:
            conn.close()

    def _request_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _head(self, reply: http.client.HTTPResponse, drop: set[str]) -> None:
        self.send_response_only(reply.status, reply.reason)
        for key, value in reply.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() not in drop:
                self.send_header(key, self.response_header(key, value))

    def response_header(self, key: str, value: str) -> str:
        """A response header as the browser gets it (the proxy passes them all unchanged)."""
        return value

    def _passed(self, reply: http.client.HTTPResponse) -> None:
        """The response as it came: same status, headers and body bytes (re-framed only if chunked)."""
        length = reply.getheader("Content-Length")
        no_body = self.command == "HEAD" or reply.status in (204, 304) or 100 <= reply.status < 200
        if no_body or length is not None:
            self._head(reply, set())
            self.end_headers()
            while not no_body and (data := reply.read(CHUNK)):
                self.wfile.write(data)
            return
        # Chunked or close-delimited: relay it chunked, as it arrives (a dev server's event stream too).
        self._head(reply, {"content-length"})
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while data := reply.read1(CHUNK):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _rewritten(self, reply: http.client.HTTPResponse, script: str) -> None:
        """The app's HTML with the case's scripts first; CSP allows exactly that script."""
        data = reply.read()
        encoding = reply.getheader("Content-Encoding", "")
        plain = decode_body(data, encoding)
        if plain is None:  # an encoding this cannot undo (br without a decoder): pass it on, say so
            self.server.note(skipped=1)
            self._head(reply, {"content-length"})
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        rewrite = insert_script(plain, script)
        source = script_hash(script)
        self._head(reply, {"content-length", "content-encoding", "content-security-policy", "etag"})
        csp_headers = 0
        for key, value in reply.getheaders():
            if key.lower() == "content-security-policy":
                changed = allow_inline(value, source)
                csp_headers += changed != value
                self.send_header(key, changed)
        self.send_header("Content-Length", str(len(rewrite.body)))
        self.send_header("Cache-Control", "no-store")  # the rewritten page is this case's only
        self.end_headers()
        self.server.note(inserted=1, csp=csp_headers + rewrite.csp_meta)  # before the browser can have it
        self.wfile.write(rewrite.body)

    def _upgrade(self, origin: Origin, path: str) -> None:
        """A websocket (or any Upgrade): send the handshake on, then relay both ways byte for byte."""
        try:
            upstream = self.server.raw_upstream(origin)
        except OSError as exc:
            self.send_error(HTTPStatus.BAD_GATEWAY, f"cannot reach {origin.url}: {exc}")
            return
        lines = [f"{self.command} {path} {self.request_version}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items() if k.lower() not in ("proxy-connection",
                                                                                      "proxy-authorization")]
        upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.wfile.flush()
        _relay(self.connection, upstream)
        self.close_connection = True

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _forward  # noqa: N815


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes. (A client waits for the tunnel's 200 or the
    handshake's 101 before it sends more, so nothing is left in the request reader.)"""
    client.settimeout(None)
    upstream.settimeout(None)
    sockets = [client, upstream]
    try:
        while True:
            # A TLS socket can hold decrypted bytes that select() does not see.
            ready: list[socket.socket] = [s for s in sockets if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready, _, _ = select.select(sockets, [], [], 300)
                if not ready:
                    return
            for sock in ready:
                data = sock.recv(CHUNK)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)
    except OSError:
        return
    finally:
        upstream.close()


class LoopProxy(ThreadingHTTPServer):
    """The proxy, on ``host`` (127.0.0.1, or a remote Grid's serve address) at a free port, in a daemon thread.

    ``serve(app_url, script)`` sets the app a case opens and the scripts its HTML gets; ``clear()`` ends the
    case and returns what was done to the app. A worker runs one case at a time, so one proxy per process
    holds at most one case's scripts.
    """

    daemon_threads = True
    block_on_close = False
    handler: type[ProxyHandler] = ProxyHandler

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), self.handler)
        self.host = host
        # Reachable from other machines: loopback only on the ports opened for the run (see open_port).
        self.exposed = not ipaddress.ip_address(host).is_loopback
        self.open_ports: set[int] = set()
        self.app: Origin | None = None
        self.script: str | None = None
        self._lock = threading.Lock()
        self._counts = {"inserted": 0, "skipped": 0, "csp": 0}
        self._tls: dict[str, ssl.SSLContext] = {}
        threading.Thread(target=self.serve_forever, args=(0.05,), name="mediafault-proxy", daemon=True).start()

    @property
    def address(self) -> str:
        """``HOST:PORT`` (``127.0.0.1:PORT`` unless it serves a remote Grid)."""
        return f"{self.host}:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser that drops a connection mid-answer (a page closed, a refused tunnel it gave up on) is no
        # error of the run's; the standard server would print a traceback into the test output.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def open_port(self, port: int) -> None:
        """Let an exposed proxy forward to this loopback port (a server or front of the harness's own)."""
        with self._lock:
            self.open_ports.add(port)

    def serve(self, app_url: str, script: str | None) -> None:
        """Forward ``app_url``'s host:port and insert ``script`` into its HTML until :meth:`clear`."""
        with self._lock:
            self.app = Origin.of(app_url)
            self.script = ascii_script(script) if script is not None else None
            self._counts = dict.fromkeys(self._counts, 0)

    def clear(self) -> dict[str, int]:
        """Stop inserting; what was done since :meth:`serve` (inserted, skipped, csp)."""
        with self._lock:
            self.script = None
            return dict(self._counts)

    def counts(self) -> dict[str, int]:
        """What was done since :meth:`serve` so far."""
        with self._lock:
            return dict(self._counts)

    def note(self, **counts: int) -> None:
        """Count what a rewrite did."""
        with self._lock:
            for key, value in counts.items():
                self._counts[key] += value

    def refusal(self, host: str) -> str:
        """Why ``host`` was refused, for the browser's page."""
        return (f"mediafault's proxy refused {host}: during a run it only forwards the app "
                f"({self.app.url if self.app else 'none set'}) and loopback, so nothing leaves this machine.\n")

    def allows(self, host: str, port: int) -> bool:
        """The app's host:port and loopback (the harness's own servers, the app's local APIs); when exposed to
        other machines, loopback only on the ports opened for the run."""
        app = self.app
        if app is not None and (host, port) == (app.host, app.port):
            return True
        return host in LOOPBACK and (not self.exposed or port in self.open_ports)

    @staticmethod
    def resolve(host: str) -> str:
        """``insecure.mediafault.test`` is loopback; other names resolve as usual."""
        return "127.0.0.1" if host == INSECURE_HOST else host

    def upstream(self, origin: Origin) -> http.client.HTTPConnection:
        """A connection to ``origin``; https accepts the app's certificate (the user named that URL)."""
        host = self.resolve(origin.host)
        if origin.scheme == "https":
            return http.client.HTTPSConnection(host, origin.port, timeout=TIMEOUT, context=_lenient())
        return http.client.HTTPConnection(host, origin.port, timeout=TIMEOUT)

    def raw_upstream(self, origin: Origin) -> socket.socket:
        """A socket to ``origin`` (TLS for https), for relaying an upgraded connection."""
        sock = socket.create_connection((self.resolve(origin.host), origin.port), timeout=TIMEOUT)
        if origin.scheme == "https":
            return _lenient().wrap_socket(sock, server_hostname=origin.host)
        return sock

    def tls_for(self, host: str) -> ssl.SSLContext:
        """A server context for ``host`` with a certificate from the run's own CA (made on first use)."""
        with self._lock:
            if host not in self._tls:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                run_ca().issue_cert(host).configure_cert(context)
                self._tls[host] = context
            return self._tls[host]

    def stop(self) -> None:
        """Stop and release the port."""
        self.shutdown()
        self.server_close()


def _lenient() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_ca: dict[str, Any] = {}
_ca_lock = threading.Lock()


def run_ca() -> Any:
    """This process's CA (made on first use): every certificate the proxy and the fronts show comes from it."""
    with _ca_lock:
        if "ca" not in _ca:
            import trustme

            _ca["ca"] = trustme.CA(organization_name="mediafault per-run CA")
        return _ca["ca"]


class FrontHandler(ProxyHandler):
    """A request to an app's front: forwarded to that app only, with the app's own Host header."""

    server: AppFront
    front_base = ""  # scheme://host:port the browser used for the front, set per request

    def do_CONNECT(self) -> None:
        self.refuse(self.path)

    def _target(self) -> tuple[str, str, int, str] | None:
        app = self.server.app
        assert app is not None  # a front is made for one app
        parts = urlsplit(self.path)
        named = parts.netloc or self.headers.get("Host", "")
        if not self.server.answers_to(named):
            self.refuse(named or "a request without a Host header")
            return None
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        self.front_base = f"{scheme}://{named}"
        self.server.note(**{scheme: 1})
        # Dev servers that check the Host header (Vite >= 6 answers 403 "Blocked request" to an unknown host)
        # see their own host:port, as without the front.
        del self.headers["Host"]
        self.headers["Host"] = f"{app.host}:{app.port}" if ":" not in app.host else f"[{app.host}]:{app.port}"
        return app.scheme, app.host, app.port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def response_header(self, key: str, value: str) -> str:
        # A redirect to the app's own origin stays on the front, or the browser would leave the case's origin.
        app = self.server.app
        if key.lower() == "location" and app is not None:
            with contextlib.suppress(ValueError):
                if Origin.of(value) == app:
                    parts = urlsplit(value)
                    return self.front_base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return value


class AppFront(LoopProxy):
    """An app given by URL, reached at another origin: https://127.0.0.1:PORT (TLS with a certificate from
    the run's CA) or http://insecure.mediafault.test:PORT (a host name that is not local), both on one port on loopback.

    It forwards to the app's URL and nowhere else (no CONNECT, no other host), answers only to its own names,
    relays websockets (a dev server's HMR) and inserts nothing: on routes without init scripts the browser's
    proxy does that, treating the front's origin as the app's.
    """

    handler = FrontHandler

    def __init__(self, app_url: str) -> None:
        super().__init__()
        self.app = Origin.of(app_url)
        self.target_url = app_url
        self._counts = {"http": 0, "https": 0}  # requests forwarded since :meth:`begin`

    @property
    def port(self) -> int:
        """The port the front listens on (127.0.0.1 only)."""
        return int(self.server_address[1])

    def url_for(self, https: bool) -> str:
        """The app's URL (path, query and fragment kept) as reached through the front."""
        parts = urlsplit(self.target_url)
        base = f"https://127.0.0.1:{self.port}" if https else f"http://{INSECURE_HOST}:{self.port}"
        return base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "") + (
            f"#{parts.fragment}" if parts.fragment else "")

    def answers_to(self, netloc: str) -> bool:
        """Whether ``netloc`` (a Host header) names this front: its loopback names and the insecure host, its
        port."""
        host, _, port = netloc.lower().rpartition(":")
        return port == str(self.port) and host.strip("[]") in LOOPBACK

    def refusal(self, host: str) -> str:
        return (f"mediafault's front for {self.target_url} refused {host}: it answers only as "
                f"127.0.0.1:{self.port} or {INSECURE_HOST}:{self.port} and forwards only to that app.\n")

    def serve(self, app_url: str, script: str | None) -> None:
        raise TypeError("a front forwards to one app and inserts nothing")

    def begin(self) -> None:
        """A case starts: count its requests from zero."""
        with self._lock:
            self._counts = dict.fromkeys(self._counts, 0)

    def describe(self, https: bool) -> str:
        """What the front did to the app since :meth:`begin`, for the case's evidence."""
        kind = ("https front (certificate from the run's own CA)" if https
                else "http front under a host name that is not local")
        count = self.counts()["https" if https else "http"]
        return (f"the app was reached through mediafault's {kind} at {self.url_for(https)}, forwarding to "
                f"{self.target_url} with the app's own Host header: {count} request{'s' if count != 1 else ''} "
                f"over {'https' if https else 'plain http'}")


_shared: dict[str, LoopProxy] = {}
_shared_lock = threading.Lock()


_bind = {"host": "127.0.0.1"}


def expose_shared_proxy(host: str) -> None:
    """Let the process's proxy listen on ``host`` (a remote Grid's serve address) instead of loopback; a
    proxy already started elsewhere is stopped (browsers are configured with the address at launch)."""
    with _shared_lock:
        _bind["host"] = host
        proxy = _shared.get("proxy")
        if proxy is not None and proxy.host != host:
            del _shared["proxy"]
            proxy.stop()


def shared_proxy() -> LoopProxy:
    """The process's proxy (started on first use): browsers are configured with its address at launch."""
    with _shared_lock:
        if "proxy" not in _shared:
            _shared["proxy"] = LoopProxy(_bind["host"])
        return _shared["proxy"]


def running_proxy() -> LoopProxy | None:
    """The process's proxy if it was started."""
    return _shared.get("proxy")


def stop_shared_proxy() -> None:
    """Stop the process's proxy (end of a run; a later launch starts a new one)."""
    with _shared_lock:
        proxy = _shared.pop("proxy", None)
    if proxy is not None:
        proxy.stop()
