"""Cached layers: the upper dir of a host on which a recipe ran, kept to be stacked under the upper dir of
later hosts (`lowerdir=<layer>:<base>`), so that they start with the recipe's result in a fraction of a
second instead of running it again.

    <cache>/layers/<release>-<name>-<key>/root/        the layer (an overlay upper dir: whiteouts included)
    <cache>/layers/<release>-<name>-<key>/layer.json   what it was made from, how long it took, the recipe's
                                                       own results (e.g. the trace of the packages step)
    <cache>/layers/.<release>-<name>-<key>.lock        held while it is built

The key hashes everything the layer depends on: LAYER_FORMAT and this module's source (how layers are
made), the base build it sits on (a rebuilt base makes new layers), the layers below it and the recipe's
inputs (for the stack layer: the package set, the debconf answers and mailtui's source, see
packages_layer.py). Changing any of them makes another key, so a stale layer is never used; old layers go
once unused (their base superseded, or not used for LAYER_MAX_IDLE_DAYS).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.harness.testhost import bases, procs
from tests.harness.testhost.common import (
    DEFAULT_HOSTNAME,
    TestHostError,
    cache_dir,
    cache_lock,
    dir_size,
    file_lock,
    log,
    short_hash,
    write_atomic,
)

if TYPE_CHECKING:
    from tests.harness.testhost.host import TestHost

LAYER_FORMAT = 1  # bump when what a layer holds changes in a way its key cannot see
LAYER_MAX_IDLE_DAYS = 3
_SOURCE_HASH = short_hash([Path(__file__).read_text()])


@dataclass(frozen=True)
class Layer:
    release: str
    name: str
    dir: Path
    base: Path  # the base it was built on
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    below: tuple[Layer, ...] = field(default=(), hash=False, compare=False)  # what it was built on, lowest first

    @property
    def root(self) -> Path:
        return self.dir / "root"

    @property
    def stack(self) -> list[Layer]:
        """The layers a host needs to have this one: those it was built on, lowest first, then itself."""
        return [*self.below, self]

    def check_usable(self, base: Path) -> None:
        """Raise unless the layer is complete and sits on `base` (the release's current base)."""
        if not (self.dir / "layer.json").exists():
            raise TestHostError(f"layer {self.dir} is gone (pruned?): ensure it again")
        if base != self.base:
            raise TestHostError(f"layer {self.dir} was built on {self.base}, the current base is {base}")


def expand(layers: Sequence[Layer]) -> list[Layer]:
    """`layers` with the layers each was built on, lowest first, each once (a host's lowerdirs)."""
    out: list[Layer] = []
    for layer in layers:
        for part in layer.stack:
            if part not in out:
                out.append(part)
    return out


def layers_root() -> Path:
    return cache_dir() / "layers"


def layer_key(base: Path, below: Sequence[Layer], inputs: dict[str, Any]) -> str:
    material = {"format": LAYER_FORMAT, "harness": _SOURCE_HASH, "base": base.name,
                "below": [layer.dir.name for layer in below], "inputs": inputs}
    return short_hash([json.dumps(material, sort_keys=True)])


def ensure_layer(release: str, name: str, inputs: dict[str, Any], build: Callable[[TestHost], dict[str, Any]], *,
                 hostname: str = DEFAULT_HOSTNAME, below: Sequence[Layer] = (), init: str = "auto") -> Layer:
    """The cached layer `name` for `inputs` on `release`'s current base, built if missing: a fresh host (on
    `below` and the layers they were built on), build(host) (its return value is kept in layer.json under
    "results"), then the host's upper dir. The layer remembers `below`: hosts given it get them too."""
    base = bases.ensure_base(release)
    below = expand(below)
    key = layer_key(base, below, inputs)
    final = layers_root() / f"{release}-{name}-{key}"
    if not (final / "layer.json").exists():
        with file_lock(layers_root() / f".{final.name}.lock", exclusive=True):
            if not (final / "layer.json").exists():
                _build(release, name, inputs, build, hostname, below, base, final, init)
    meta = json.loads((final / "layer.json").read_text())
    os.utime(final / "layer.json")  # last used: idle layers are pruned
    return Layer(release, name, final, base, meta, below=tuple(layer for b in below for layer in b.stack))


def _build(release: str, name: str, inputs: dict[str, Any], build: Callable[[TestHost], dict[str, Any]],
           hostname: str, below: Sequence[Layer], base: Path, final: Path, init: str) -> None:
    from tests.harness.testhost.host import create_host

    log(f"building the {name} layer for {release} ({final.name})")
    began = time.monotonic()
    tmp = layers_root() / f".build-{final.name}-{secrets.token_hex(3)}"
    tmp.mkdir(parents=True)
    try:
        host = create_host(release, hostname, layers=below, init=init)
        try:
            if bases.current_base(release) != base:
                raise TestHostError(f"the {release} base changed while the {name} layer was being built")
            results = build(host)
        except BaseException:
            host.close()
            raise
        host.close(keep_upper=tmp / "root")
        meta = {"format": LAYER_FORMAT, "release": release, "name": name, "base": str(base),
                "below": [str(layer.dir) for layer in below], "inputs": inputs, "results": results,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "build_seconds": round(time.monotonic() - began, 1), "size_bytes": dir_size(tmp / "root")}
        write_atomic(tmp / "layer.json", json.dumps(meta, indent=1) + "\n")
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"{name} layer for {release} ready in {time.monotonic() - began:.1f} s "
        f"({meta['size_bytes'] / 1e6:.0f} MB)")
    prune_layers()


def prune_layers(*, everything: bool = False) -> list[str]:
    """Delete layers no overlay uses whose base is no longer current, that sat idle LAYER_MAX_IDLE_DAYS, or
    (everything=True) all unused ones; and partial builds nobody is making. Skipped while the cache is busy."""
    removed: list[str] = []
    root = layers_root()
    if not root.is_dir():
        return removed
    with cache_lock(exclusive=True, blocking=False) as locked:
        if not locked:
            return removed
        current = {str(b) for r in bases.RELEASES if (b := bases.current_base(r))}
        in_use = procs.overlay_lowers_in_use()
        for path in sorted(root.iterdir()):
            if path.name.startswith(".build-"):
                with file_lock(root / f".{path.name[7:-7]}.lock", exclusive=True, blocking=False) as idle:
                    if idle:
                        shutil.rmtree(path, ignore_errors=True)
                        removed.append(path.name)
                continue
            if path.name.startswith(".") or str(path / "root") in in_use:
                continue
            try:
                meta = json.loads((path / "layer.json").read_text())
                idle_days = (time.time() - (path / "layer.json").stat().st_mtime) / 86400
            except (OSError, ValueError):
                meta, idle_days = {}, LAYER_MAX_IDLE_DAYS + 1
            if everything or meta.get("base") not in current or idle_days > LAYER_MAX_IDLE_DAYS:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
                with file_lock(root / f".{path.name}.lock", exclusive=True, blocking=False) as idle:
                    if idle:
                        (root / f".{path.name}.lock").unlink(missing_ok=True)
    return removed


def list_layers() -> list[dict[str, Any]]:
    found = []
    for path in sorted(layers_root().glob("*-*-*")) if layers_root().is_dir() else []:
        if path.name.startswith("."):
            continue
        try:
            found.append({"dir": str(path), **json.loads((path / "layer.json").read_text())})
        except (OSError, ValueError):
            found.append({"dir": str(path), "name": "?"})
    return found
