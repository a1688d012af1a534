"""The mail log file: read it from the end, follow it as it grows.

The log is /var/log/mail.log (rsyslog, or Postfix's `maillog_file` + Dovecot's `log_path`, see
mailtui.system.logs).

- `tail_lines(path, n)` reads the last n lines backwards in blocks: instant on a 1 GB file.
- `iter_lines_backwards(path, end)` yields complete lines from `end` towards the start.
- `follow(path, ...)` yields the last lines, then new lines as they are appended; survives rotation
  (rename + new file, logrotate's `create`) and truncation (`copytruncate`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator

BLOCK = 64 * 1024  # backwards-read block
READ_CHUNK = 1024 * 1024  # forward read per call while following
MAX_TAIL_SCAN = 64 * 1024 * 1024  # give up looking for line starts beyond this (a file without newlines)
ROTATE_GRACE = 3.0  # seconds to keep reading a rotated file (writers reopen only after postrotate)


def _tail(fd: int, end: int, n: int) -> tuple[list[bytes], bytes]:
    """The last n complete lines before `end` (without their newline) and the partial line after
    the last newline. Reads backwards in blocks, so the cost does not depend on the file's size."""
    chunks: list[bytes] = []
    pos, newlines = end, 0
    while pos > 0 and newlines < n + 1 and end - pos < MAX_TAIL_SCAN:
        size = min(BLOCK, pos)
        pos -= size
        data = os.pread(fd, size, pos)
        chunks.append(data)
        newlines += data.count(b"\n")
    data = b"".join(reversed(chunks))
    head, sep, partial = data.rpartition(b"\n")
    if not sep:
        return [], partial
    lines = head.split(b"\n")
    if pos > 0:
        lines = lines[1:]  # the first piece may start mid-line
    return (lines[-n:] if n > 0 else []), partial


def _decode(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r")


def tail_lines(path: str | os.PathLike[str], n: int) -> list[str]:
    """The last n lines of the file (a last line without its newline counts), [] when it is missing."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    try:
        end = os.fstat(fd).st_size
        lines, partial = _tail(fd, end, n)
    finally:
        os.close(fd)
    out = [_decode(x) for x in lines]
    if partial:
        out.append(_decode(partial))
    return out[-n:] if n > 0 else []


def iter_lines_backwards(path: str | os.PathLike[str], end: int | None = None) -> Iterator[str]:
    """Every line of the file, newest first, read in blocks from the end (for searches). With `end`
    (a byte offset), only the complete lines before it: what follow(path, start=end) does not read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        pos = os.fstat(fd).st_size
        if end is not None:
            pos = min(pos, end)
            pos -= len(_tail(fd, pos, 0)[1])  # a line still being written belongs to the follower
        carry = b""
        while pos > 0:
            size = min(BLOCK, pos)
            pos -= size
            data = os.pread(fd, size, pos) + carry
            pieces = data.split(b"\n")
            carry = pieces[0]
            for piece in reversed(pieces[1:]):
                if piece:
                    yield _decode(piece)
        if carry:
            yield _decode(carry)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- following


class _Reader:
    """One open log file read forward from `pos`, holding a partial last line until its newline."""

    def __init__(self, fd: int, pos: int, partial: bytes = b"", last: bytes = b"") -> None:
        self.fd, self.pos, self.partial = fd, pos, partial
        self.last = last  # the byte at pos-1 as we read it: a different one means truncated + rewritten
        st = os.fstat(fd)
        self.ident = (st.st_dev, st.st_ino)

    def read(self) -> list[bytes]:
        size = os.fstat(self.fd).st_size
        if size < self.pos or (self.pos > 0 and size > self.pos and os.pread(self.fd, 1, self.pos - 1) != self.last):
            self.pos, self.partial, self.last = 0, b"", b""  # truncated (copytruncate)
        if size <= self.pos:
            return []
        data = os.pread(self.fd, min(READ_CHUNK, size - self.pos), self.pos)
        if not data:
            return []
        self.pos += len(data)
        self.last = data[-1:]
        data = self.partial + data
        head, sep, self.partial = data.rpartition(b"\n")
        return head.split(b"\n") if sep else []

    def close(self) -> list[bytes]:
        rest = [self.partial] if self.partial else []
        self.partial = b""
        os.close(self.fd)
        return rest


def _open(path: str | os.PathLike[str]) -> int | None:
    try:
        return os.open(path, os.O_RDONLY)
    except (FileNotFoundError, PermissionError):
        return None


def _ident(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def follow(path: str | os.PathLike[str], *, from_end_lines: int = 200, poll: float = 0.2,
           stop: Callable[[], bool] | None = None, start: int | None = None) -> Iterator[str]:
    """Yield the last `from_end_lines` lines of the file, then every line appended to it, until
    stop() is true (checked at least every `poll` seconds) or the caller closes the generator.
    With `start` (a byte offset the caller has searched up to, see iter_lines_backwards), no tail:
    every line from there on, so that nothing written between the search and the follow is lost.

    Rotation (the path names another file): the old file is read to its end and for ROTATE_GRACE
    seconds more (writers reopen it only after logrotate's postrotate), the new file from its start.
    Truncation (the file got shorter, or was rewritten under us): read again from offset 0.
    A missing file is waited for. A partial last line is held until its newline arrives."""
    should_stop = stop or (lambda: False)
    current: _Reader | None = None
    draining: list[tuple[_Reader, float]] = []
    fd = _open(path)
    if fd is not None:
        size = os.fstat(fd).st_size
        end = size if start is None else min(start, size)
        lines, partial = _tail(fd, end, from_end_lines if start is None else 0)
        last = os.pread(fd, 1, end - 1) if end > 0 else b""
        current = _Reader(fd, end, partial, last)
        for line in lines:
            yield _decode(line)
    next_check = 0.0
    try:
        while not should_stop():
            got = False
            if current is not None:
                batch = current.read()
                got = bool(batch)
                for line in batch:
                    yield _decode(line)
            now = time.monotonic()
            for reader, deadline in list(draining):
                batch = reader.read()
                got = got or bool(batch)
                if not batch and now > deadline:
                    batch = reader.close()
                    draining.remove((reader, deadline))
                for line in batch:
                    yield _decode(line)
            if got and now < next_check:
                continue  # more may be waiting: read on
            next_check = now + poll
            ident = _ident(path)
            if ident is not None and (current is None or ident != current.ident):
                new_fd = _open(path)
                if new_fd is not None:
                    if current is not None:  # rotated: finish the old file, keep an eye on it a little
                        while batch := current.read():
                            for line in batch:
                                yield _decode(line)
                        draining.append((current, time.monotonic() + ROTATE_GRACE))
                    current = _Reader(new_fd, 0)
                    continue
            if not got:
                time.sleep(poll)
    finally:
        for reader in [current, *(r for r, _ in draining)]:
            if reader is not None:
                with contextlib.suppress(OSError):
                    os.close(reader.fd)
