"""The lab's echo peer, driven over HTTP by an aiortc caller standing in for the browser (no lab needed)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from aiohttp.test_utils import TestClient, TestServer
from aiortc import RTCPeerConnection, RTCSessionDescription

from harness.reproduce.netlab import peer


async def _answer_to_an_audio_offer() -> tuple[str, list[str]]:
    """POST a browser-like offer (setup:actpass, audio) to the peer; its answer's SDP and its DTLS roles."""
    caller = RTCPeerConnection()
    caller.addTransceiver("audio", direction="sendrecv")
    await caller.setLocalDescription(await caller.createOffer())
    assert "a=setup:actpass" in caller.localDescription.sdp  # what a browser's offer says
    app = peer.build(None)
    async with TestClient(TestServer(app)) as client:
        reply = await client.post("/offer", json={"sdp": caller.localDescription.sdp, "type": "offer"})
        assert reply.status == 200, await reply.text()
        answer = await reply.json()
        roles = [t.receiver.transport._role for pc in app[peer.PCS] for t in pc.getTransceivers()]
        await caller.setRemoteDescription(RTCSessionDescription(**answer))
    await caller.close()
    return answer["sdp"], roles


def test_the_peer_answers_as_the_dtls_server() -> None:
    """The browser must be the DTLS client: as the client the peer finished the handshake last, and a lost
    final flight on a lossy link left the browser 'connected' with no media coming back (a flaky lossy
    Wi-Fi case). The answer says so, and the peer's own transport took the role its answer states."""
    # A thread of its own: the test process may already run an event loop (the browsers' driver).
    with ThreadPoolExecutor(1) as thread:
        sdp, roles = thread.submit(lambda: asyncio.run(_answer_to_an_audio_offer())).result(timeout=60)
    setups = [line for line in sdp.splitlines() if line.startswith("a=setup:")]
    assert setups == ["a=setup:passive"], setups
    assert roles == ["server"], roles
