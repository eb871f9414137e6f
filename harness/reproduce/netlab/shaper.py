"""A user-space link shaper: delay, jitter, loss and a bandwidth cap for packets an iptables NFQUEUE rule
hands over, for kernels without ``sch_netem`` (the lab uses ``tc netem`` where the kernel has it).

It speaks the nfnetlink_queue protocol on a raw netlink socket, so it needs no C library or compiler:
bind a queue, receive each packet's id (and its first bytes, for the IP length), and give the verdict
later — a verdict given *later* is the delay; a drop verdict is the loss. Verdicts leave in arrival
order, so jitter varies the delay without reordering packets (as netem does when it has a rate).

Run inside the namespace whose rules feed the queue:
``python -m harness.reproduce.netlab.shaper --queue 1 --latency-ms 150 --jitter-ms 20 --loss 1 --rate-kbit 750``.
It prints ``ready`` once bound, and on SIGTERM a JSON line with what it did, then exits.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import random
import select
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass, field

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQNL_CFG_CMD_BIND, NFQNL_CFG_CMD_UNBIND = 1, 2
NFQNL_COPY_PACKET = 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_PAYLOAD = 1, 2, 10
NF_DROP, NF_ACCEPT = 0, 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
COPY_BYTES = 4  # enough of the IP header to read the packet's total length
QUEUE_MAXLEN = 4096


@dataclass(frozen=True)
class ShapeParams:
    """What the shaper does to each packet."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    rate_kbit: float = 0.0  # 0: no cap


@dataclass
class Counters:
    """What the shaper did, for the report."""

    packets: int = 0
    dropped: int = 0
    delayed_ms_total: float = 0.0
    max_queue: int = 0
    errors: list[str] = field(default_factory=list)


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _message(msg: int, queue: int, attrs: bytes, seq: int, flags: int = NLM_F_REQUEST) -> bytes:
    # nlmsghdr (host order) + nfgenmsg (family, version, res_id big-endian).
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg, flags, seq, 0) + body


def _attrs(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        out[kind & 0x7FFF] = data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return out


class Queue:
    """One bound nfnetlink queue."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, 0))
        self.seq = 0
        self._config(_attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)))
        self._config(_attr(NFQA_CFG_PARAMS, struct.pack("!IB", COPY_BYTES, NFQNL_COPY_PACKET))
                     + _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", QUEUE_MAXLEN)))

    def _config(self, attrs: bytes) -> None:
        self.seq += 1
        self.sock.send(_message(NFQNL_MSG_CONFIG, self.number, attrs, self.seq, NLM_F_REQUEST | NLM_F_ACK))
        reply = self.sock.recv(65536)
        _, kind = struct.unpack_from("=IH", reply)
        if kind == NLMSG_ERROR:
            (errno,) = struct.unpack_from("=i", reply, 16)
            if errno:
                raise OSError(-errno, f"binding netfilter queue {self.number} failed (is another shaper on it?)")

    def packets(self) -> list[tuple[int, int]]:
        """Every packet waiting on the socket: (packet id, IP length in bytes)."""
        out = []
        data = self.sock.recv(1 << 16)
        offset = 0
        while offset + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, offset)
            if length < 16:
                break
            if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                attrs = _attrs(data[offset + 20:offset + length])
                (packet_id,) = struct.unpack_from("!I", attrs[NFQA_PACKET_HDR])
                payload = attrs.get(NFQA_PAYLOAD, b"")
                size = struct.unpack_from("!H", payload, 2)[0] if len(payload) >= 4 else 0
                out.append((packet_id, size))
            offset += (length + 3) & ~3
        return out

    def verdict(self, packet_id: int, accept: bool) -> None:
        """Let the packet go on (``accept``) or drop it."""
        self.seq += 1
        attrs = _attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT if accept else NF_DROP, packet_id))
        self.sock.send(_message(NFQNL_MSG_VERDICT, self.number, attrs, self.seq))

    def close(self) -> None:
        """Unbind and close (packets still queued are accepted by the kernel's bypass)."""
        with contextlib.suppress(OSError):
            self._config(_attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_UNBIND, 0)))
        self.sock.close()


class Shaper:
    """Decides when each packet leaves; pure logic, so it is testable without a kernel."""

    def __init__(self, params: ShapeParams, rng: random.Random | None = None) -> None:
        self.params = params
        self.rng = rng or random.Random()
        self.last_release = 0.0
        self.link_free = 0.0
        self.counters = Counters()

    def release_time(self, now: float, size: int) -> float | None:
        """When a packet that arrived at ``now`` leaves, or ``None`` to drop it."""
        p = self.params
        self.counters.packets += 1
        if p.loss_pct and self.rng.random() * 100 < p.loss_pct:
            self.counters.dropped += 1
            return None
        delay = p.latency_ms
        if p.jitter_ms:
            delay = max(0.0, self.rng.gauss(p.latency_ms, p.jitter_ms))
        release = now + delay / 1000
        if p.rate_kbit:
            # The link serialises one packet after another at the capped rate.
            start = max(now, self.link_free)
            self.link_free = start + (size * 8) / (p.rate_kbit * 1000)
            release = max(release, self.link_free)
        release = max(release, self.last_release)  # never reorder
        self.last_release = release
        self.counters.delayed_ms_total += (release - now) * 1000
        return release


def serve(lanes: list[tuple[Queue, Shaper]]) -> None:
    """Shape every queue (one per direction) until SIGTERM or SIGINT."""
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    by_socket = {queue.sock: (queue, shaper) for queue, shaper in lanes}
    pending: list[tuple[float, int, Queue, int]] = []  # (release time, order, queue, packet id)
    order = 0
    while not stop:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, queue, packet_id = heapq.heappop(pending)
            queue.verdict(packet_id, True)
        timeout = max(0.0, pending[0][0] - now) if pending else 0.5
        try:
            readable, _, _ = select.select(list(by_socket), [], [], timeout)
        except InterruptedError:
            continue
        for sock in readable:
            queue, shaper = by_socket[sock]
            try:
                arrived = queue.packets()
            except OSError as exc:  # ENOBUFS: the kernel dropped queue messages; count it and go on
                shaper.counters.errors.append(str(exc))
                continue
            now = time.monotonic()
            for packet_id, size in arrived:
                release = shaper.release_time(now, size)
                if release is None:
                    queue.verdict(packet_id, False)
                elif release <= now:
                    queue.verdict(packet_id, True)
                else:
                    order += 1
                    heapq.heappush(pending, (release, order, queue, packet_id))
            shaper.counters.max_queue = max(shaper.counters.max_queue, sum(1 for p in pending if p[2] is queue))
    for _, _, queue, packet_id in pending:  # leaving: let what is held go on
        queue.verdict(packet_id, True)


def main(argv: list[str] | None = None) -> int:
    """Command line entry (run inside the lab's server namespace)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queue", type=int, action="append", required=True, help="repeat: one queue per direction")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--jitter-ms", type=float, default=0.0)
    ap.add_argument("--loss", type=float, default=0.0, help="percent of packets dropped")
    ap.add_argument("--rate-kbit", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    params = ShapeParams(args.latency_ms, args.jitter_ms, args.loss, args.rate_kbit)
    rng = random.Random(args.seed)
    lanes: list[tuple[Queue, Shaper]] = []
    try:
        for number in args.queue:
            lanes.append((Queue(number), Shaper(params, random.Random(rng.random()))))
    except OSError as exc:
        print(f"cannot bind a netfilter queue: {exc}", flush=True)
        return 1
    print("ready", flush=True)
    try:
        serve(lanes)
    finally:
        for queue, _ in lanes:
            queue.close()
    report = []
    for queue, shaper in lanes:
        c = shaper.counters
        report.append({"queue": queue.number, "packets": c.packets, "dropped": c.dropped,
                       "mean_delay_ms": round(c.delayed_ms_total / max(1, c.packets - c.dropped), 1),
                       "max_queue": c.max_queue, "errors": c.errors[:3]})
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
