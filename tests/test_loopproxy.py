"""The loopback proxy on its own, with real servers on 127.0.0.1 and no browser: it inserts the case's
script into the app's HTML only (gzip, chunked, no <head>, a CSP header or meta), passes everything else
through byte for byte (other responses, websockets, CONNECT tunnels), terminates an https app's tunnel with
its own CA, refuses every host that is neither the app nor loopback, and leaves no socket behind. The front
for an app given by URL forwards to that app only, over https (the same CA) or plain http by name, with the
app's own Host header."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from harness.app.loopproxy import AppFront, LoopProxy, allow_inline, ascii_script, insert_script, script_hash
from harness.app.server import INSECURE_HOST, self_signed_context

SCRIPT = "window.__mfSeen = 'é';"
BINARY = bytes(range(256)) * 40


class _Origin(BaseHTTPRequestHandler):
    """An app with every kind of response the proxy must handle."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _reply(self, body: bytes, kind: str = "text/html", **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        if "Transfer_Encoding" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if "Transfer_Encoding" in headers:
            for at in range(0, len(body), 7):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(body[at:at + 7]), body[at:at + 7]))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def do_GET(self) -> None:
        page = b"<!doctype html><html><head><title>t</title><script>app()</script></head><body>x</body></html>"
        if self.path == "/gzip":  # gzip whatever the client asked for, as some dev servers do
            self._reply(gzip.compress(page), Content_Encoding="gzip")
        elif self.path == "/chunked":
            self._reply(page, Transfer_Encoding="chunked")
        elif self.path == "/nohead":
            self._reply(b"<p>no head at all</p>")
        elif self.path == "/csp":
            self._reply(page, Content_Security_Policy="script-src 'self' 'nonce-abc'; img-src 'none'")
        elif self.path == "/csp-meta":
            self._reply(b"<html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'\">"
                        b"</head></html>")
        elif self.path == "/binary":
            self._reply(BINARY, "application/octet-stream")
        elif self.path == "/echo-host":
            self._reply(json.dumps(self.headers.get("Host")).encode(), "application/json")
        elif self.path == "/redirect":  # an absolute redirect to the app's own origin, as some servers send
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.connection.getsockname()[1]}/nohead?a=1")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/echo-encoding":
            self._reply(json.dumps(self.headers.get("Accept-Encoding")).encode(), "application/json")
        elif self.path == "/ws" and self.headers.get("Upgrade") == "websocket":
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.flush()
            data = self.rfile.read(5)
            self.wfile.write(data[::-1])  # proves bytes flow both ways after the handshake
            self.wfile.flush()
            self.close_connection = True
        else:
            self._reply(page)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture
def origin() -> Iterator[str]:
    """A plain http app on loopback."""
    server = _Server(("127.0.0.1", 0), _Origin)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def tls_origin() -> Iterator[str]:
    """An https app whose certificate no client trusts."""
    server = _Server(("127.0.0.1", 0), _Origin)
    server.socket = self_signed_context().wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy() -> Iterator[LoopProxy]:
    """A proxy of its own (not the process's shared one)."""
    proxy = LoopProxy()
    yield proxy
    proxy.stop()


def through(proxy: LoopProxy, url: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """GET ``url`` through the proxy, as a browser asks a forward proxy (absolute URI)."""
    host, port = proxy.address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", url, headers={"Accept": "text/html", **(headers or {})})
    return conn.getresponse()


def test_insert_script_goes_first_in_head() -> None:
    page = b"<!DOCTYPE html><html lang=en><HEAD><script>app()</script></HEAD></html>"
    out = insert_script(page, "mf()").body
    assert out == b"<!DOCTYPE html><html lang=en><HEAD><script>mf()</script><script>app()</script></HEAD></html>"


@pytest.mark.parametrize(("page", "expected"), [
    (b"<html><body>x</body></html>", b"<html><script>mf()</script><body>x</body></html>"),
    (b"<!doctype html><p>x", b"<!doctype html><script>mf()</script><p>x"),
    (b"<p>x</p>", b"<script>mf()</script><p>x</p>"),
    (b"<html><header>not head</header></html>", b"<html><script>mf()</script><header>not head</header></html>"),
])
def test_insert_script_without_a_head(page: bytes, expected: bytes) -> None:
    """No <head>: after <html>, else after the doctype, else first; a <header> is not a <head>."""
    assert insert_script(page, "mf()").body == expected


def test_insert_script_allows_itself_in_a_csp_meta() -> None:
    page = b"<head><meta http-equiv='Content-Security-Policy' content=\"script-src 'self'\"></head>"
    rewrite = insert_script(page, "mf()")
    assert rewrite.csp_meta == 1
    assert f"content=\"script-src 'self' {script_hash('mf()')}\"".encode() in rewrite.body


@pytest.mark.parametrize(("policy", "expected"), [
    ("script-src 'self'", "script-src 'self' H"),
    ("default-src 'none'; img-src *", "default-src H; img-src *"),  # 'none' with a source is invalid
    ("default-src 'self'; script-src-elem 'self'", "default-src 'self'; script-src-elem 'self' H"),
    ("script-src 'unsafe-inline'", "script-src 'unsafe-inline'"),  # a hash would switch unsafe-inline off
    ("script-src 'unsafe-inline' 'nonce-x'", "script-src 'unsafe-inline' 'nonce-x' H"),
    ("img-src 'none'", "img-src 'none'"),  # scripts are not restricted: nothing to change
    ("script-src 'self', script-src https:", "script-src 'self' H, script-src https: H"),
])
def test_csp_changes_only_as_far_as_needed(policy: str, expected: str) -> None:
    assert allow_inline(policy, "H") == expected


def test_non_ascii_script_is_escaped() -> None:
    """The app's bytes are never re-encoded, so the script is ASCII whatever the page's charset."""
    assert ascii_script("a = 'é😀';") == "a = '\\u00e9\\ud83d\\ude00';"


@pytest.mark.parametrize("path", ["/gzip", "/chunked", "/nohead", "/csp"])
def test_app_html_gets_the_script(proxy: LoopProxy, origin: str, path: str) -> None:
    proxy.serve(origin + "/", SCRIPT)
    reply = through(proxy, origin + path)
    body = reply.read()
    assert reply.status == 200
    assert b"<script>window.__mfSeen = '\\u00e9';</script>" in body
    assert reply.getheader("Content-Encoding") is None and reply.getheader("Content-Length") == str(len(body))
    if path == "/csp":
        assert reply.getheader("Content-Security-Policy") == \
            f"script-src 'self' 'nonce-abc' {script_hash(ascii_script(SCRIPT))}; img-src 'none'"
    assert proxy.clear()["inserted"] == 1


def test_csp_count_reaches_the_evidence(proxy: LoopProxy, origin: str) -> None:
    proxy.serve(origin + "/", SCRIPT)
    through(proxy, origin + "/csp").read()
    through(proxy, origin + "/csp-meta").read()
    assert proxy.clear() == {"inserted": 2, "skipped": 0, "csp": 2}


def test_page_is_asked_for_unencoded(proxy: LoopProxy, origin: str) -> None:
    proxy.serve(origin + "/", SCRIPT)
    assert json.loads(through(proxy, origin + "/echo-encoding", {"Accept-Encoding": "gzip, br"}).read()) == "identity"
    proxy.clear()  # without a script the browser's own Accept-Encoding goes through
    assert json.loads(through(proxy, origin + "/echo-encoding", {"Accept-Encoding": "gzip, br"}).read()) == "gzip, br"


def test_everything_else_passes_unchanged(proxy: LoopProxy, origin: str) -> None:
    proxy.serve(origin + "/", SCRIPT)
    assert through(proxy, origin + "/binary").read() == BINARY
    proxy.clear()
    page = through(proxy, origin + "/gzip", {"Accept-Encoding": "gzip"})
    assert page.getheader("Content-Encoding") == "gzip" and b"__mfSeen" not in gzip.decompress(page.read())


def test_other_hosts_are_refused(proxy: LoopProxy, origin: str) -> None:
    """Neither the app nor loopback: 403 with a reason, for plain requests and tunnels alike."""
    proxy.serve(origin + "/", SCRIPT)
    reply = through(proxy, "http://refused.invalid/")
    assert reply.status == 403
    why = reply.read().decode()
    assert f"refused refused.invalid: during a run it only forwards the app ({origin}) and loopback" in why
    host, port = proxy.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"CONNECT refused.invalid:443 HTTP/1.1\r\nHost: refused.invalid:443\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 403")


def test_websocket_upgrade_is_relayed(proxy: LoopProxy, origin: str) -> None:
    proxy.serve(origin + "/", SCRIPT)
    host, port = proxy.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        app = origin.removeprefix("http://")
        _websocket_echoes(sock, f"ws://{app}/ws", app)


def _websocket_echoes(sock: socket.socket, target: str, host: str) -> None:
    """Upgrade to the test app's echoing websocket at ``target`` and check bytes go both ways."""
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    sock.sendall(b"hello")
    assert sock.recv(5) == b"olleh"


def test_https_app_is_terminated_with_the_proxys_ca(proxy: LoopProxy, tls_origin: str) -> None:
    """CONNECT to the app: the proxy answers with a certificate of its own CA for the app's host, accepts
    the app's untrusted certificate upstream, and rewrites the HTML inside the tunnel."""
    proxy.serve(tls_origin + "/", SCRIPT)
    host, port = proxy.address.split(":")
    app = tls_origin.removeprefix("https://")
    conn = http.client.HTTPSConnection(host, int(port), timeout=10, context=_untrusting())
    conn.set_tunnel(app)
    conn.request("GET", "/chunked", headers={"Accept": "text/html"})
    reply = conn.getresponse()
    assert b"__mfSeen" in reply.read()
    assert isinstance(conn.sock, ssl.SSLSocket)
    der = conn.sock.getpeercert(binary_form=True)
    assert der is not None
    issuer = x509.load_der_x509_certificate(der).issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert issuer[0].value == "mediafault per-run CA"
    conn.request("GET", "/binary")
    assert conn.getresponse().read() == BINARY


def test_tunnel_to_other_loopback_is_raw(proxy: LoopProxy, tls_origin: str) -> None:
    """A loopback https server that is not the app (the harness's own): an untouched tunnel."""
    host, port = proxy.address.split(":")
    conn = http.client.HTTPSConnection(host, int(port), timeout=10, context=_untrusting())
    conn.set_tunnel(tls_origin.removeprefix("https://"))
    conn.request("GET", "/", headers={"Accept": "text/html"})
    assert b"__mfSeen" not in conn.getresponse().read()


def test_no_socket_is_left_after_stop(origin: str) -> None:
    proxy = LoopProxy()
    host, port = proxy.address.split(":")
    through(proxy, origin + "/binary").read()
    proxy.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5)


def _untrusting() -> ssl.SSLContext:
    """A client that trusts nothing in particular; the tests check the certificate's issuer themselves."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_closing_the_pool_stops_the_shared_proxy() -> None:
    """The process's proxy lives as long as the browsers configured with it, not beyond the run."""
    from harness.app.loopproxy import running_proxy, shared_proxy
    from harness.run.pool import BrowserPool

    port = int(shared_proxy().address.split(":")[1])
    BrowserPool().close()
    assert running_proxy() is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


@pytest.fixture
def front(origin: str) -> Iterator[AppFront]:
    """A front for the plain http app at ``/index.html?x=1``."""
    front = AppFront(origin + "/index.html?x=1")
    yield front
    front.stop()


def _front_get(front: AppFront, path: str, https: bool, host: str | None = None,
               method: str = "GET") -> http.client.HTTPResponse:
    """``path`` from the front as a browser asks it, with the Host header ``host`` (default: its own name)."""
    conn: http.client.HTTPConnection
    if https:
        conn = http.client.HTTPSConnection("127.0.0.1", front.port, timeout=10, context=_untrusting())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=10)
    own = f"127.0.0.1:{front.port}" if https else f"{INSECURE_HOST}:{front.port}"
    conn.request(method, path, headers={"Host": host or own, "Accept": "text/html"})
    return conn.getresponse()


def test_front_serves_the_app_over_https_with_the_run_ca(front: AppFront, origin: str) -> None:
    """https://127.0.0.1:PORT with a certificate from the run's CA; the app sees its own Host header, its
    pages and bytes come through unchanged (the front inserts nothing)."""
    assert front.url_for(True) == f"https://127.0.0.1:{front.port}/index.html?x=1"
    conn = http.client.HTTPSConnection("127.0.0.1", front.port, timeout=10, context=_untrusting())
    conn.request("GET", "/echo-host")
    assert json.loads(conn.getresponse().read()) == origin.removeprefix("http://")
    assert isinstance(conn.sock, ssl.SSLSocket)
    der = conn.sock.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    assert cert.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "mediafault per-run CA"
    assert _front_get(front, "/binary", https=True).read() == BINARY
    assert b"<script>app()</script>" in _front_get(front, "/", https=True).read()
    note = front.describe(True)
    assert "https front" in note and origin + "/index.html?x=1" in note and "3 requests over https" in note, note


def test_front_serves_the_app_by_a_name_that_is_not_local(front: AppFront, origin: str) -> None:
    """http://INSECURE_HOST:PORT: plain http by name, the app still sees its own Host header (Vite >= 6 refuses
    others), and a redirect to the app's own origin stays on the front."""
    assert front.url_for(False) == f"http://{INSECURE_HOST}:{front.port}/index.html?x=1"
    assert json.loads(_front_get(front, "/echo-host", https=False).read()) == origin.removeprefix("http://")
    reply = _front_get(front, "/redirect", https=False)
    assert reply.status == 302
    assert reply.getheader("Location") == f"http://{INSECURE_HOST}:{front.port}/nohead?a=1"


@pytest.mark.parametrize("host", ["evil.invalid", "127.0.0.1:1", INSECURE_HOST, "localhost.evil.invalid:{port}"])
def test_front_refuses_any_host_but_its_own(front: AppFront, host: str) -> None:
    """A Host header that does not name the front (DNS rebinding, another port), an absolute URI for another
    host and a CONNECT tunnel: 403 with the reason, and nothing reaches the app."""
    reply = _front_get(front, "/echo-host", https=False, host=host.format(port=front.port))
    assert reply.status == 403
    assert f"mediafault's front for {front.target_url} refused" in reply.read().decode()
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
        sock.sendall(b"GET http://other.invalid/echo-host HTTP/1.1\r\nHost: other.invalid\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 403")
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{front.port} HTTP/1.1\r\nHost: 127.0.0.1:{front.port}\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 403")


def test_front_relays_websockets(front: AppFront, origin: str) -> None:
    """A dev server's HMR websocket through the front (https), bytes both ways after the handshake."""
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as raw, \
            _untrusting().wrap_socket(raw) as sock:
        _websocket_echoes(sock, "/ws", f"127.0.0.1:{front.port}")


def test_front_listens_on_loopback_only_and_is_gone_after_stop(origin: str) -> None:
    front = AppFront(origin + "/")
    assert front.socket.getsockname()[0] == "127.0.0.1"
    port = front.port
    _front_get(front, "/binary", https=True).read()
    front.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_an_exposed_proxy_reaches_only_the_loopback_ports_opened_for_the_run(origin: str) -> None:
    """On a non-loopback address (a remote Grid's serve address) the proxy is reachable from other machines,
    so it forwards to this machine's loopback only on the ports the run opened (its servers, fronts and the
    app): any other local service stays out of reach."""
    from harness.reproduce.engines.grid_route import route_address

    try:
        address = route_address("198.51.100.1")  # this machine's address off loopback; nothing is sent
    except ValueError as exc:
        pytest.skip(f"this machine has no address off loopback: {exc}")
    exposed = LoopProxy(address)
    try:
        assert exposed.exposed and exposed.address.startswith(f"{address}:")
        port = int(origin.rsplit(":", 1)[1])
        refused = through(exposed, f"{origin}/page")
        assert refused.status == 403 and "refused" in refused.read().decode()
        exposed.open_port(port)
        assert through(exposed, f"{origin}/page").status == 200
        assert through(exposed, f"http://localhost:{port + 1 if port < 65535 else port - 1}/").status == 403
    finally:
        exposed.stop()
    local = LoopProxy()  # on loopback nothing changes: every loopback port, as the local routes need
    try:
        assert not local.exposed and local.allows("127.0.0.1", 1) and local.allows("localhost", 65535)
    finally:
        local.stop()


def test_a_browser_that_hangs_up_is_not_reported_as_an_error(proxy: LoopProxy,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A connection the browser drops mid-answer prints nothing (the standard server prints a traceback);
    any other error in a handler is still printed."""
    for error in (ConnectionResetError(104, "Connection reset by peer"), BrokenPipeError(32, "Broken pipe")):
        try:
            raise error
        except OSError:
            proxy.handle_error(None, ("127.0.0.1", 1))
    assert capsys.readouterr().err == ""
    try:
        raise ValueError("a bug in a handler")
    except ValueError:
        proxy.handle_error(None, ("127.0.0.1", 1))
    assert "ValueError: a bug in a handler" in capsys.readouterr().err
