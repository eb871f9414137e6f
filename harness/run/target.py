"""Where the app under test is for a run (a fixed URL, or its files served by the harness or inside the
network lab), and the page a case opens to reach it under each page condition."""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from harness.app.loopproxy import AppFront, expose_shared_proxy, running_proxy, shared_proxy
from harness.app.server import EMBED_PATH, INJECT_PARAM, INSECURE_HOST, AppServer, self_signed_context
from harness.core.errors import EnvironmentProblem
from harness.reproduce.conditions import CAPTURE, FIREFOX_SITE_CAPABILITY
from harness.reproduce.netlab.lab import NetLab, app_url_problem
from harness.run.plan import CasePlan


class AppTarget:
    """Where the app is for this run, and how to reach it under each page condition.

    ``url`` fixes a running app (kept at its own URL where the case's origin allows, else reached through
    an :class:`AppFront` on loopback; on routes without init scripts the browser's loopback proxy puts the
    harness's scripts into its HTML); otherwise the app's files are served by the harness over http and, on
    demand, https, with ``mounts`` (URL prefix → directory) beside them, on the host name ``host``
    (``localhost`` for an SDK that accepts no other plain-http origin).

    ``serve_host`` is for a Selenium Grid on another machine: one of this machine's addresses that its nodes
    reach. The servers then listen there instead of on loopback, a second port is the embedding pages' other
    origin, and ``http-localhost`` (a secure context) is served over https, since plain http on that address
    is not one; each case's evidence says so. An app given by URL keeps its URL there too: the nodes'
    browsers go through the harness's proxy, which then listens on ``serve_host`` and forwards to loopback
    only the app's port and the harness's own servers, so every page is where it is in a local run.
    """

    def __init__(self, url: str | None, root: Path | None, telemetry: str | None, profile_params: bool,
                 mounts: dict[str, Path] | None = None, host: str = "127.0.0.1",
                 serve_host: str | None = None) -> None:
        self.fixed_url = url
        self.serve_host = serve_host if not url else None
        self._exposed = bool(url and serve_host)  # the proxy serves a remote Grid's nodes
        if url and serve_host:
            expose_shared_proxy(serve_host)
        self._embedders: dict[bool, AppServer] = {}  # the other origin for a remote Grid, by https
        self._served_note: str | None = None  # what serving for a remote Grid did to this case
        self.root = root
        self.mounts = mounts or {}
        self.host = host
        self.telemetry = telemetry
        self.profile_params = profile_params  # the bundled app takes ?profile=&case=
        self._http: AppServer | None = None
        self._https: AppServer | None = None
        self._lab: NetLab | None = None
        self._proxied: str | None = None  # the app URL whose HTML the shared proxy gets this case's scripts into
        self._front: AppFront | None = None  # started on a URL app's first case that needs another origin
        self._front_https: bool | None = None  # this case reaches the app through the front: over https?

    def lane_spec(self) -> dict[str, Any] | None:
        """The arguments that make this target again in another process (a lane of a batch); None when that
        would not be the same target: one serving a remote Grid's nodes."""
        if self.serve_host or self._exposed:
            return None
        return {"url": self.fixed_url, "root": self.root, "telemetry": self.telemetry,
                "profile_params": self.profile_params, "mounts": self.mounts, "host": self.host}

    def lab(self) -> NetLab:
        """The network lab (started on first use): it serves the app's files itself, or forwards a fixed
        ``app.url`` on this machine into its client namespace."""
        if self._lab is None:
            if self.fixed_url:
                problem = app_url_problem(self.fixed_url)
                if problem:  # planning skips these cases; this is for callers that did not plan with the URL
                    raise EnvironmentProblem(problem)
            elif self.root is None:
                raise EnvironmentProblem("the network lab needs the app: give app.dir or app.url")
            lab = NetLab(None if self.fixed_url else self.root)
            lab.start()
            try:
                if self.fixed_url:
                    lab.forward_app(self.fixed_url)
            except BaseException:
                lab.stop()
                raise
            self._lab = lab
        return self._lab

    def server(self, https: bool) -> AppServer:
        """The http or https server (started on first use)."""
        bind = self.serve_host or "127.0.0.1"
        if https:
            if self._https is None:
                self._https = self._opened(AppServer(self.root, self._tls(), self.mounts, host=bind))
            return self._https
        if self._http is None:
            self._http = self._opened(AppServer(self.root, mounts=self.mounts, host=bind))
        return self._http

    def _opened(self, server: AppServer) -> AppServer:
        if self._exposed:  # the remote nodes reach it through the proxy
            shared_proxy().open_port(server.port)
        return server

    def _tls(self) -> ssl.SSLContext:
        return self_signed_context(*([self.serve_host] if self.serve_host else []))

    def embedder(self, https: bool) -> str:
        """The origin of the pages that embed the app: another origin of the harness's servers (``localhost``
        is not ``127.0.0.1``; for a remote Grid, another port on the serve address)."""
        if not self.serve_host:
            return self.server(https).url("127.0.0.1" if self.host == "localhost" else "localhost")
        if https not in self._embedders:
            server = AppServer(None, self._tls() if https else None, host=self.serve_host)
            server.injections = self.server(https).injections  # the embedding page gets the case's scripts too
            self._embedders[https] = server
        return self._embedders[https].url()

    def site_origins(self) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        """Every origin whose permissions a case may take from a site permissions file, with those permissions:
        one host name under ``.localhost`` per combination of states, on the http and the https server (both
        started, since their ports are in the file)."""
        combos: list[tuple[tuple[str, str], ...]] = [()]
        for name in sorted(CAPTURE):
            combos = [c + (((name, state),) if state else ()) for c in combos
                      for state in (None, *FIREFOX_SITE_CAPABILITY)]
        return tuple((self.server(https).url(site_host(states)), states) for https in (False, True)
                     for states in combos if states)

    def locate(self, plan: CasePlan, token: str, inject: str | None = None) -> Location:
        """The page to open, the app's frame within it, and the origin permissions are keyed on.

        ``inject`` is script the server must put in the app's HTML (routes without init scripts).
        """
        given = plan.source.scenario.given
        if given.network is not None:
            lab = self.lab()
            net = given.network
            lab_params = {"signal": lab.signal_url,
                          "ice": json.dumps(lab.ice_config(net.turn, net.policy, net.credentials == "wrong"))}
            if self.fixed_url:
                # The same URL as outside the lab (the lab forwards its address), so the same origin.
                url = with_query(self.fixed_url, lab_params)
                return Location(url, None, _origin(url), lab.redact(url))
            if self.profile_params:
                lab_params.update({"profile": plan.profile, "case": token})
            url = f"{lab.app_origin}/index.html?{urlencode(lab_params)}"
            return Location(url, None, lab.app_origin, lab.redact(url))
        # For a remote Grid the app is on a non-loopback address, where only https is a secure context.
        https = given.page.origin == "https" or (self.serve_host is not None and given.page.origin == "http-localhost")
        params: dict[str, str] = {}
        fixed = self._fixed_app(given.page.origin) if self.fixed_url else None
        if inject is not None:
            if fixed:
                # The app is another process's: the browser's proxy puts the scripts into its HTML instead.
                shared_proxy().serve(fixed, inject)
                self._proxied = fixed
            if not self.fixed_url or given.page.embed != "top":  # the harness's own pages get them from its server
                self.server(https).injections[token] = inject
                params[INJECT_PARAM] = token
        # The top-level page's host name carries the case's permissions (see site_origins).
        site = site_host(plan.site_permissions) if plan.site_permissions else None
        if fixed:
            app_url = fixed
        else:
            # The serve address is not local, so plain http on it is already insecure: no insecure host there.
            host = self.serve_host or (INSECURE_HOST if given.page.origin == "http-insecure" else self.host)
            if site and given.page.embed == "top":
                host = site
            if self.serve_host:
                self._served_note = self._remote_note(given.page.origin, https)
            if self.profile_params:
                params.update({"profile": plan.profile, "case": token})
            app_url = f"{self.server(https).url(host)}/index.html" + (f"?{urlencode(params)}" if params else "")
        if given.page.embed == "top":
            return Location(app_url, None, _origin(app_url))
        embedder = self.server(https).url(site) if site else self.embedder(https)
        allow = "1" if given.page.embed == "iframe-allow" else "0"
        page_url = f"{embedder}{EMBED_PATH}?" + urlencode({"src": app_url, "allow": allow, **params})
        return Location(page_url, urlsplit(app_url).netloc, _origin(page_url))

    def _remote_note(self, origin: str, https: bool) -> str:
        note = (f"served for the Selenium Grid's nodes on {self.serve_host} (an address of this machine they reach) "
                "instead of loopback")
        if origin == "http-localhost" and https:
            note += ("; page.origin http-localhost became https with a certificate from the run's own CA, since "
                     "plain http on that address is not a secure context")
        return note

    def _fixed_app(self, origin: str) -> str:
        """The URL app's address under page origin ``origin``: its own URL where that already is the origin,
        else through the front (https in front of http, or the non-local host name)."""
        assert self.fixed_url is not None
        scheme = urlsplit(self.fixed_url).scheme.lower()
        if origin == "http-localhost" or (origin == "https" and scheme == "https"):
            return self.fixed_url
        if scheme == "https":  # planning skips these cases; this is for callers that did not plan with the URL
            raise EnvironmentProblem(f"page.origin={origin} needs the app over plain http, but app.url is "
                                     f"https ({self.fixed_url}); give the app's http URL for this case")
        if self._front is None:
            self._front = AppFront(self.fixed_url)
            if self._exposed:
                shared_proxy().open_port(self._front.port)
        self._front.begin()
        self._front_https = origin == "https"
        return self._front.url_for(origin == "https")

    def check_proxied(self) -> None:
        """After the app's page loaded: the proxy must have put the scripts into it, else nothing could be
        observed and the case must not be judged."""
        proxy = running_proxy()
        if self._proxied and proxy is not None and proxy.counts()["inserted"] == 0:
            skipped = proxy.counts()["skipped"]
            raise EnvironmentProblem(
                f"mediafault's proxy never got to put its observer into {self._proxied}: "
                + ("the page came br-encoded, which it cannot undo; let the dev server send gzip or identity"
                   if skipped else "the browser did not ask it for the page (WebKitGTK reaches https pages "
                   "through it only with GLib's libproxy module: apt-get install glib-networking)"))

    def proxy_evidence(self) -> str | None:
        """What the front and the proxy did to the app in this case (None when nothing); stops the proxy's
        inserting."""
        front = None
        if self._front is not None and self._front_https is not None:
            front = self._front.describe(self._front_https)
        self._front_https = None
        proxied = self._proxied_note()
        served, self._served_note = self._served_note, None
        return "; ".join(n for n in (served, front, proxied) if n) or None

    def _proxied_note(self) -> str | None:
        app = self._proxied
        if not app:
            return None
        self._proxied = None
        proxy = running_proxy()
        if proxy is None:
            return None
        counts = proxy.clear()
        note = (f"mediafault's proxy ({proxy.address}) inserted its observer script into {counts['inserted']} HTML "
                f"response{'s' if counts['inserted'] != 1 else ''} of {app}")
        if counts["csp"]:
            note += (f"; it added that script's hash to the Content-Security-Policy of {counts['csp']} of them "
                     "(nothing else in the policy changed)")
        if counts["skipped"]:
            note += (f"; {counts['skipped']} HTML response(s) had an encoding it cannot undo (br) and were "
                     "passed on unchanged")
        return note

    def forget(self, token: str) -> None:
        """Drop a case's injected scripts."""
        self.proxy_evidence()
        for server in (self._http, self._https):
            if server is not None:
                server.injections.pop(token, None)

    def stop(self) -> None:
        """Stop the servers and the lab."""
        for server in (self._http, self._https, *self._embedders.values()):
            if server is not None:
                server.stop()
        self._http = self._https = None
        self._embedders.clear()
        if self._front is not None:
            self._front.stop()
            self._front = None
        if self._lab is not None:
            self._lab.stop()
            self._lab = None
        if self._exposed:  # a later run in this process is local unless it says otherwise
            expose_shared_proxy("127.0.0.1")


def site_host(states: tuple[tuple[str, str], ...]) -> str:
    """The host name of the app's origin whose site permissions are ``states``, e.g.
    ``microphone-granted.camera-denied.localhost``: every name under .localhost is this machine's loopback and
    a secure context, so each is an origin of its own on the same server."""
    return ".".join(f"{name}-{state}" for name, state in sorted(states, reverse=True)) + ".localhost"


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to its query (its own query and fragment kept)."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Location:
    """Where a case's page is."""

    page_url: str
    frame: str | None  # URL part of the app's frame when it is embedded
    permission_origin: str  # the top-level origin: browsers key permissions on it
    shown_url: str = ""  # page_url with secrets (TURN credentials) removed: the one reports may show

    @property
    def display(self) -> str:
        """The URL for people and reports."""
        return self.shown_url or self.page_url
