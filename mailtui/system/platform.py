"""What machine this is: distribution, release, init system, installed versions of the stack."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mailtui.system import services
from mailtui.system.commands import run, which

SUPPORTED = {
    ("debian", "12"): "Debian 12 (bookworm)",
    ("debian", "13"): "Debian 13 (trixie)",
    ("ubuntu", "22.04"): "Ubuntu 22.04",
    ("ubuntu", "24.04"): "Ubuntu 24.04",
    ("ubuntu", "26.04"): "Ubuntu 26.04",
}


def parse_os_release(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"')
    return values


def parse_version(text: str) -> tuple[int, ...] | None:
    """'1:2.3.19.1+dfsg1-2' or '2.4.1 (abc)' -> (2, 3, 19, 1)."""
    text = text.strip().split(":", 1)[-1] if re.match(r"^\d+:", text.strip()) else text.strip()
    match = re.match(r"(\d+(?:\.\d+)*)", text)
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def candidate_version(package: str) -> str | None:
    """The version apt would install (None if unknown to apt)."""
    if not which("apt-cache"):
        return None
    result = run(["apt-cache", "policy", package], check=False)
    match = re.search(r"Candidate:\s*(\S+)", result.output)
    if not match or match.group(1) == "(none)":
        return None
    return match.group(1)


def installed_version(package: str) -> str | None:
    if not which("dpkg-query"):
        return None
    result = run(["dpkg-query", "-W", "-f=${Status}\t${Version}", package], check=False)
    if not result.ok or "install ok installed" not in result.output:
        return None
    return result.output.split("\t", 1)[1].strip()


@dataclass
class Platform:
    os_id: str
    version_id: str
    codename: str
    pretty_name: str
    systemd: bool

    @classmethod
    def detect(cls, os_release: Path = Path("/etc/os-release")) -> Platform:
        values = parse_os_release(os_release.read_text()) if os_release.exists() else {}
        version = values.get("VERSION_ID", "")
        if values.get("ID") == "debian" and not version:
            # Debian testing/sid have no VERSION_ID; /etc/debian_version says e.g. "trixie/sid".
            version = Path("/etc/debian_version").read_text().strip().split(".")[0]
        return cls(
            os_id=values.get("ID", "unknown"),
            version_id=version,
            codename=values.get("VERSION_CODENAME", ""),
            pretty_name=values.get("PRETTY_NAME", "unknown system"),
            systemd=services.has_systemd(),
        )

    @property
    def supported(self) -> bool:
        return (self.os_id, self.version_id) in SUPPORTED

    def dovecot_version(self) -> tuple[int, ...] | None:
        """The installed Dovecot's version, else the one apt would install."""
        if which("dovecot"):
            version = parse_version(run(["dovecot", "--version"], check=False).output)
            if version:
                return version
        candidate = candidate_version("dovecot-core")
        return parse_version(candidate) if candidate else None

    def dovecot_dialect(self) -> str:
        """'2.3' or '2.4' — the configuration syntax the installed (or to-be-installed) Dovecot reads."""
        version = self.dovecot_version()
        if version is None:
            # Without apt data, go by the release: Debian 13+ and Ubuntu 26.04+ ship 2.4.
            newer = (self.os_id == "debian" and self.version_id >= "13") or (
                self.os_id == "ubuntu" and self.version_id >= "26.04"
            )
            return "2.4" if newer else "2.3"
        return "2.4" if version[:2] >= (2, 4) else "2.3"

    def postfix_version(self) -> tuple[int, ...] | None:
        """The installed Postfix's version, else the one apt would install."""
        if which("postconf"):
            version = parse_version(run(["postconf", "-h", "mail_version"], check=False).output)
            if version:
                return version
        candidate = candidate_version("postfix")
        return parse_version(candidate) if candidate else None

    def dovecot_full_version(self) -> str:
        version = self.dovecot_version()
        return ".".join(str(p) for p in version) if version else ""
