"""Mailboxes on disk: /var/mail/vhosts/<domain>/<local part> (maildir, owned by vmail)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from mailtui import paths
from mailtui.model.validate import address_problem, canonical_address


def maildir_path(email: str, root: str = paths.MAIL_ROOT) -> Path:
    email = canonical_address(email)
    problem = address_problem(email)
    if problem:
        raise ValueError(problem)  # never build a path from an unchecked address
    local, domain = email.split("@")
    return Path(root) / domain / local


@dataclass(frozen=True)
class MaildirStats:
    messages: int
    bytes: int


def stats(email: str, root: str = paths.MAIL_ROOT) -> MaildirStats:
    """Message count and size on disk, over INBOX and every folder (cur/ and new/)."""
    base = maildir_path(email, root)
    messages = size = 0
    if not base.is_dir():
        return MaildirStats(0, 0)
    for sub in ("cur", "new"):
        for folder in [base, *[p for p in base.iterdir() if p.name.startswith(".") and p.is_dir()]]:
            d = folder / sub
            if d.is_dir():
                for entry in d.iterdir():
                    messages += 1
                    size += entry.stat().st_size
    return MaildirStats(messages, size)


def delete_maildir(email: str, root: str = paths.MAIL_ROOT) -> Path | None:
    path = maildir_path(email, root)
    if not path.exists():
        return None
    shutil.rmtree(path)
    return path
