"""How numbers, sizes, times and long text are shown — one place for the command line and the screens.

A foundation module: it imports nothing of mailtui.
"""

from __future__ import annotations


def human_age(seconds: float | None) -> str:
    """A duration in at most two units: 45s, 3m07s, 2h05m, 3d04h ("-" when unknown)."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def human_size(n: int) -> str:
    """A size in bytes as 512 B, 4.7 KiB, 1.2 MiB, 3.0 GiB."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def duration_text(seconds: int) -> str:
    """A setting's duration in its natural unit: 600 -> '10 min', 3600 -> '1 h', 86400 -> '1 day', 90 -> '90 s'."""
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
    return f"{seconds} s"


def elapsed(seconds: float) -> str:
    """A running time as minutes:seconds, e.g. 1:07."""
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def compact(n: int) -> str:
    """A count in at most 4 characters: 999, 1.2k, 20k, 1.2M."""
    if n < 1000:
        return str(n)
    for unit, size in (("k", 1_000), ("M", 1_000_000)):
        if n < size * 10:
            return f"{n * 10 // size / 10:.1f}{unit}"
        if n < size * 1000:
            return f"{n // size}{unit}"
    return f"{n // 1_000_000}M"


def clip(text: str, width: int) -> str:
    """`text` cut to `width` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
