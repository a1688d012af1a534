"""A tiny DNS client (standard library only): one query over UDP, the answer decoded.

Used from the test runner (towards the test DNS on the test network) and inside test hosts, fed to their
python3 on stdin (`python3 - SERVER NAME TYPE` prints the answer as JSON; an OSError is printed as
{"error": errno name, "message": …} with exit status 3), so it must run on Python 3.10–3.13 alike.
"""

from __future__ import annotations

import errno
import json
import random
import socket
import struct
import sys
from dataclasses import asdict, dataclass, field

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


@dataclass
class Answer:
    rcode: str
    authoritative: bool
    records: list[list[str]] = field(default_factory=list)  # [name, type, data]

    def values(self, rtype: str) -> list[str]:
        return [data for _name, kind, data in self.records if kind == rtype]


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("idna")
    return out + b"\0"


def _read_name(msg: bytes, pos: int) -> tuple[str, int]:
    labels, end, jumps = [], None, 0
    while True:
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            jumps += 1
            if jumps > 50:
                raise ValueError("DNS name compression loop")
            continue
        if length == 0:
            pos += 1
            break
        labels.append(msg[pos + 1:pos + 1 + length].decode(errors="replace"))
        pos += 1 + length
    return ".".join(labels) + ".", (end if end is not None else pos)


def _rdata(msg: bytes, rtype: int, start: int, length: int) -> str:
    data = msg[start:start + length]
    if rtype == 1:
        return socket.inet_ntop(socket.AF_INET, data)
    if rtype == 28:
        return socket.inet_ntop(socket.AF_INET6, data)
    if rtype in (2, 5, 12):
        return _read_name(msg, start)[0]
    if rtype == 15:
        return f"{struct.unpack('!H', data[:2])[0]} {_read_name(msg, start + 2)[0]}"
    if rtype == 16:
        parts, pos = [], 0
        while pos < len(data):
            parts.append(data[pos + 1:pos + 1 + data[pos]].decode(errors="replace"))
            pos += 1 + data[pos]
        return "".join(parts)
    if rtype == 6:
        mname, pos = _read_name(msg, start)
        rname, pos = _read_name(msg, pos)
        serial = struct.unpack("!I", msg[pos:pos + 4])[0]
        return f"{mname} {rname} {serial}"
    return data.hex()


def query(server: str, name: str, rtype: str = "A", *, port: int = 53, timeout: float = 3) -> Answer:
    """Ask `server` for `name`/`rtype` (recursion desired, as a stub resolver asks). Raises OSError when the
    packet cannot be sent or no answer comes (socket.timeout)."""
    qid = random.randrange(65536)
    packet = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _encode_name(name) + struct.pack("!HH", TYPES[rtype], 1)
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (server, port))
        while True:
            msg, _peer = sock.recvfrom(65535)
            if struct.unpack("!H", msg[:2])[0] == qid:
                break
    _qid, flags, qdcount, ancount, _ns, _ar = struct.unpack("!HHHHHH", msg[:12])
    pos = 12
    for _ in range(qdcount):
        pos = _read_name(msg, pos)[1] + 4
    answer = Answer(RCODES.get(flags & 0xF, str(flags & 0xF)), bool(flags & 0x0400))
    names = {v: k for k, v in TYPES.items()}
    for _ in range(ancount):
        rname, pos = _read_name(msg, pos)
        kind, _cls, _ttl, length = struct.unpack("!HHIH", msg[pos:pos + 10])
        pos += 10
        answer.records.append([rname, names.get(kind, str(kind)), _rdata(msg, kind, pos, length)])
        pos += length
    return answer


def main(argv: list[str]) -> int:
    server, name, rtype = argv[0], argv[1], argv[2] if len(argv) > 2 else "A"
    try:
        print(json.dumps(asdict(query(server, name, rtype))))
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "timeout" if isinstance(exc, socket.timeout) else "?")
        print(json.dumps({"error": code, "message": str(exc)}))
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
