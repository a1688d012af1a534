"""Asking a DNS server, with the standard library only: one question, its answer decoded.

Used by `mailtui dns check` to compare what DNS says with the records mailtui prints. The server asked is
the one the operator names (`--server`) or the first `nameserver` of /etc/resolv.conf — never a built-in
public resolver. A query goes over UDP and again over TCP when the answer comes back truncated (a 2048-bit
DKIM key with its TXT overhead is close to UDP's classic 512 bytes). No answer in time, a refused
connection or an unreadable reply is DnsUnreachable: a check must never take silence for a pass.
"""

from __future__ import annotations

import random
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path

from mailtui.errors import MailtuiError

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
RESOLV_CONF = Path("/etc/resolv.conf")
TIMEOUT = 3.0
FLAG_TC = 0x0200
FLAG_QR = 0x8000


class DnsUnreachable(MailtuiError):
    """The DNS server gave no usable answer (timeout, refused, malformed)."""


@dataclass(frozen=True)
class Record:
    name: str  # absolute, lower case, without the final dot
    type: str
    value: str  # A/AAAA: the address; MX: "PREF TARGET"; PTR/CNAME/NS: the target; TXT: the strings joined
    strings: tuple[str, ...] = ()  # TXT: the character-strings as published


@dataclass(frozen=True)
class Answer:
    rcode: str
    records: list[Record] = field(default_factory=list)

    def values(self, rtype: str) -> list[str]:
        return [r.value for r in self.records if r.type == rtype]


def default_server(resolv_conf: Path | None = None) -> str | None:
    """The first nameserver of /etc/resolv.conf (what this machine's own lookups ask), None without one."""
    try:
        lines = (resolv_conf or RESOLV_CONF).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            return words[1].split("%")[0]
    return None


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        if not label:
            continue
        raw = label.encode("idna")
        if len(raw) > 63:
            raise ValueError(f"DNS label longer than 63 bytes: {label!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def read_name(msg: bytes, pos: int) -> tuple[str, int]:
    labels: list[str] = []
    end: int | None = None
    jumps = 0
    while True:
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            jumps += 1
            if jumps > 64:
                raise ValueError("DNS name compression loop")
            continue
        if length == 0:
            pos += 1
            break
        labels.append(msg[pos + 1:pos + 1 + length].decode("ascii", errors="replace"))
        pos += 1 + length
    return ".".join(labels).lower(), (end if end is not None else pos)


def _record(msg: bytes, name: str, rtype: int, start: int, length: int) -> Record:
    data = msg[start:start + length]
    kind = TYPE_NAMES.get(rtype, str(rtype))
    if rtype == 1:
        return Record(name, kind, socket.inet_ntop(socket.AF_INET, data))
    if rtype == 28:
        return Record(name, kind, socket.inet_ntop(socket.AF_INET6, data))
    if rtype in (2, 5, 12):
        return Record(name, kind, read_name(msg, start)[0])
    if rtype == 15:
        return Record(name, kind, f"{struct.unpack('!H', data[:2])[0]} {read_name(msg, start + 2)[0]}")
    if rtype == 33:  # priority weight port target ("." for the root: the service is not offered)
        priority, weight, port = struct.unpack("!HHH", data[:6])
        return Record(name, kind, f"{priority} {weight} {port} {read_name(msg, start + 6)[0] or '.'}")
    if rtype == 16:
        strings: list[str] = []
        pos = 0
        while pos < len(data):
            strings.append(data[pos + 1:pos + 1 + data[pos]].decode("utf-8", errors="replace"))
            pos += 1 + data[pos]
        return Record(name, kind, "".join(strings), tuple(strings))
    return Record(name, kind, data.hex())


def build_query(qid: int, name: str, rtype: str) -> bytes:
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + struct.pack("!HH", TYPES[rtype], 1)


def parse_reply(msg: bytes, qid: int) -> tuple[Answer, bool]:
    """(the answer, whether it was truncated). ValueError when `msg` is not the reply to query `qid`."""
    if len(msg) < 12:
        raise ValueError("a reply shorter than a DNS header")
    rid, flags, qdcount, ancount, _ns, _ar = struct.unpack("!HHHHHH", msg[:12])
    if rid != qid or not flags & FLAG_QR:
        raise ValueError("not the reply to this query")
    pos = 12
    for _ in range(qdcount):
        pos = read_name(msg, pos)[1] + 4
    answer = Answer(RCODES.get(flags & 0xF, str(flags & 0xF)))
    for _ in range(ancount):
        rname, pos = read_name(msg, pos)
        kind, _cls, _ttl, length = struct.unpack("!HHIH", msg[pos:pos + 10])
        pos += 10
        if pos + length > len(msg):
            raise ValueError("a record runs past the end of the reply")
        answer.records.append(_record(msg, rname, kind, pos, length))
        pos += length
    return answer, bool(flags & FLAG_TC)


def _udp(server: str, port: int, packet: bytes, qid: int, timeout: float) -> tuple[Answer, bool]:
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))  # any local port, known before sending
        sock.connect((server, port))  # replies from any other address are not ours
        sock.send(packet)
        while True:
            try:
                return parse_reply(sock.recv(65535), qid)
            except ValueError:
                continue  # a stray datagram: keep waiting until the timeout


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ValueError("the DNS server closed the TCP connection mid-reply")
        data += chunk
    return data


def _tcp(server: str, port: int, packet: bytes, qid: int, timeout: float) -> Answer:
    with socket.create_connection((server, port), timeout=timeout) as sock:
        sock.sendall(struct.pack("!H", len(packet)) + packet)
        length = struct.unpack("!H", _recv_exactly(sock, 2))[0]
        return parse_reply(_recv_exactly(sock, length), qid)[0]


def query(name: str, rtype: str, *, server: str, port: int = 53, timeout: float = TIMEOUT) -> Answer:
    """Ask `server` for `name`/`rtype` (recursion desired, as a stub resolver asks); over TCP again when the
    UDP reply is truncated. DnsUnreachable when no usable answer comes."""
    qid = random.randrange(65536)
    packet = build_query(qid, name, rtype)
    where = f"the DNS server {server}" + (f" (port {port})" if port != 53 else "")
    try:
        answer, truncated = _udp(server, port, packet, qid, timeout)
        if truncated:
            answer = _tcp(server, port, packet, qid, timeout)
    except TimeoutError as exc:
        raise DnsUnreachable(f"{where} did not answer within {timeout:.0f} s ({name} {rtype})") from exc
    except (OSError, ValueError, IndexError, struct.error) as exc:
        raise DnsUnreachable(f"{where} could not be asked for {name} {rtype}: {exc}") from exc
    return answer
