"""The lab's server side, run inside the server namespace: the app's static files, a telemetry sink, and
an aiortc peer that answers calls and echoes the caller's audio back (``POST /offer``, non-trickle).

An app named by ``app.url`` is served elsewhere (its own server, forwarded into the lab), so without
``--root`` there are no files, and its offers arrive cross-origin: ``/offer`` answers the CORS preflight
a JSON POST brings.

Run: ``python -m harness.reproduce.netlab.peer [--root DIR] --host ADDR --port N``; prints ``ready`` when listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

PC_LIFETIME = 120.0  # a call the browser forgot is closed after this
PCS = web.AppKey("pcs", set[RTCPeerConnection])  # every call, closed at shutdown
RELAY = web.AppKey("relay", MediaRelay)


async def offer(request: web.Request) -> web.Response:
    """Answer an SDP offer with an echoing peer connection."""
    params: dict[str, Any] = await request.json()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    relay = request.app[RELAY]
    request.app[PCS].add(pc)

    @pc.on("track")
    def on_track(track: Any) -> None:
        if track.kind == "audio":
            pc.addTrack(relay.subscribe(track))

    await pc.setRemoteDescription(RTCSessionDescription(sdp=params["sdp"], type=params["type"]))
    # Chromium's non-trickle offer has no end-of-candidates; without this aioice waits forever.
    await pc.addIceCandidate(None)
    answer = await pc.createAnswer()
    # The peer takes the DTLS server role (setup:passive; aiortc would pick client). As the client, aiortc
    # finishes last: when the browser's final flight is lost on a lossy link, the browser already reports
    # 'connected' while aiortc waits on its own resend timer, which doubles (1, 2, 4, 8, 16 s). Once, at
    # 15% loss, Firefox was 'connected' after 1 s and the peer sent no media back in the 45 s that followed.
    # As the server the peer finishes first, and the browser's own retransmission timers end the handshake,
    # so the browser says 'connected' only when media can flow both ways.
    # Only an actpass offer leaves the choice to the answerer; an offer that chose a role keeps aiortc's match.
    sdp = answer.sdp.replace("a=setup:active", "a=setup:passive") if "a=setup:actpass" in params["sdp"] else answer.sdp
    await pc.setLocalDescription(RTCSessionDescription(sdp=sdp, type="answer"))
    asyncio.get_running_loop().call_later(PC_LIFETIME, lambda: asyncio.ensure_future(pc.close()))
    return web.json_response({"sdp": pc.localDescription.sdp, "type": pc.localDescription.type},
                             headers={"Access-Control-Allow-Origin": "*"})


async def preflight(request: web.Request) -> web.Response:
    """Allow the cross-origin JSON POST of an app on another origin (an ``app.url`` forwarded into the lab)."""
    headers = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST",
               "Access-Control-Allow-Headers": request.headers.get("Access-Control-Request-Headers", "content-type"),
               "Access-Control-Max-Age": "600"}
    if request.headers.get("Access-Control-Request-Private-Network"):
        headers["Access-Control-Allow-Private-Network"] = "true"
    return web.Response(status=204, headers=headers)


async def telemetry(request: web.Request) -> web.Response:
    """Accept an error report (the harness reads reports in the page)."""
    with contextlib.suppress(Exception):
        json.loads(await request.text())
    return web.Response(status=204)


async def on_shutdown(app: web.Application) -> None:
    """Close every call."""
    await asyncio.gather(*(pc.close() for pc in app[PCS]), return_exceptions=True)


def build(root: Path | None) -> web.Application:
    """The web application."""
    app = web.Application()
    app[PCS] = set()
    app[RELAY] = MediaRelay()
    app.router.add_post("/offer", offer)
    app.router.add_route("OPTIONS", "/offer", preflight)
    app.router.add_post("/telemetry", telemetry)
    if root is not None:
        app.router.add_static("/", root, show_index=False)
    app.on_shutdown.append(on_shutdown)
    return app


async def serve(root: Path | None, host: str, port: int) -> None:
    """Serve until cancelled."""
    runner = web.AppRunner(build(root))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, help="the app's files (none: the app is served elsewhere)")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lab", default="", help="the lab's tag (only so its processes can be found)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.root, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
