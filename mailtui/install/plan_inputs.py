"""What a plan reads from the machine's files, as one fingerprint: the wizard's Review keeps a plan while
the answers and this fingerprint stay the same, instead of working it out again (6–8 s) each time the
operator returns to it.

The fingerprint is the stat (inode, size, mtime, mode, owner) of every file under PLAN_INPUTS, not their
contents: cheap (a few hundred files), and any write, replace or chmod changes it. The database is not
part of it — a change made with another SQL client while the Review is open shows after Recompute (r).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

from mailtui import paths

# The files and trees the install steps read when they plan (their resources' targets, the packages
# installed, the accounts the steps create, mailtui's own state).
PLAN_INPUTS = (
    "/etc/postfix", "/etc/dovecot", "/etc/mailname", "/etc/hostname", "/etc/hosts", "/etc/passwd", "/etc/group",
    paths.TLS_DIR, "/etc/ufw", "/etc/default/ufw", "/etc/fail2ban", "/etc/mysql", "/var/lib/dpkg/status",
    "/etc/logrotate.d", paths.STATE_DIR,
)


def fingerprint(roots: Iterable[str] = PLAN_INPUTS) -> str:
    """One hash of the stat of every file, directory and link under `roots` (missing roots count too)."""
    digest = hashlib.sha256()
    for root in roots:
        for path in _walk(root):
            try:
                st = os.lstat(path)
            except OSError:
                digest.update(f"{path}\0missing\n".encode())
                continue
            digest.update(f"{path}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode}\0{st.st_uid}\0"
                          f"{st.st_gid}\n".encode())
    return digest.hexdigest()


def _walk(root: str) -> list[str]:
    """The root and, for a directory, everything under it in a stable order (links are not followed)."""
    found = [root]
    if os.path.isdir(root) and not os.path.islink(root):
        for top, dirs, files in os.walk(root, onerror=lambda _: None):
            dirs.sort()
            found += [os.path.join(top, name) for name in sorted(dirs + files)]
    return found
