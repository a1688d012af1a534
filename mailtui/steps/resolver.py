"""mailtui's own DNS resolver (with the spam filter on): unbound from Debian on 127.0.0.1, and /etc/resolv.conf
naming it alone — why, and the test profile's variant, in policy/resolver.py.

Order of the switch: unbound is (re)started on mailtui's configuration and must answer before /etc/resolv.conf
names it, so the machine is never left asking a resolver that is not there. Postfix's chroot keeps its own
copy of resolv.conf (postscreen's DNSBL lookups run there): the Postfix step declares that copy too, so a
changed resolver restarts Postfix. Switched off, the original /etc/resolv.conf is put back (from the backup
store) before unbound is stopped; `mailtui rollback` puts it back as well.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailtui.errors import StepFailed
from mailtui.events import StepEmitter
from mailtui.model.answers import Answers
from mailtui.policy import resolver
from mailtui.report import Change, Check
from mailtui.stack import services as safe_services
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.resources import AbsentFileResource, FileResource, unified_diff
from mailtui.system import backups, dns_query, files, services
from mailtui.system.commands import run

HEADER = "# Written by mailtui ([spam] in the answers); replaced on every install.\n"
OFF_WHY = "the spam filter is off in the answers: [spam] enabled = false"
ANSWER_TIMEOUT = 20.0


# ---------------------------------------------------------------- what the machine resolved with before


def original_resolv_conf() -> str:
    """/etc/resolv.conf as it was before mailtui first changed it (the backup store's copy), else as it is."""
    entry = backups.load_index().get("paths", {}).get(str(resolver.RESOLV_CONF))
    if entry and entry.get("was") == "file":
        copy = backups.original_copy(resolver.RESOLV_CONF)
        if copy.exists():
            return copy.read_text(errors="replace")
    if entry and entry.get("was") == "symlink":
        target = Path(entry["target"])
        target = target if target.is_absolute() else resolver.RESOLV_CONF.parent / target
        return files.read_text(target) or ""
    return files.read_text(resolver.RESOLV_CONF) or ""


def nameservers(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            found.append(fields[1])
    return found


def upstreams(text: str) -> list[str]:
    """The test profile's forwarders: the original nameservers that are not this machine (valid addresses)."""
    result = []
    for server in nameservers(text):
        try:
            address = ipaddress.ip_address(server.split("%")[0])
        except ValueError:
            continue
        if not address.is_loopback:
            result.append(str(address))
    return result


# ---------------------------------------------------------------- the files


def render_unbound(answers: Answers, forwarders: Sequence[str]) -> str:
    lines = [
        HEADER.rstrip("\n"),
        "# mailtui's own recursive resolver for the spam filter's lookups (policy/resolver.py): loopback only.",
        "server:",
        f"    interface: {resolver.ADDRESS}",
        f"    port: {resolver.PORT}",
        "    access-control: 127.0.0.0/8 allow",
        "    hide-identity: yes",
        "    hide-version: yes",
        "    prefetch: yes",
    ]
    if answers.profile != "test":
        # Production: recursion from the root, DNSSEC validated (Debian's root-auto-trust-anchor-file.conf).
        return "\n".join(lines) + "\n"
    lines += [
        "    # Test profile: the test zones are unsigned (a validator would call them bogus), and tests change",
        "    # their zones between two questions: validate nothing, cache nothing.",
        '    module-config: "iterator"',
        "    cache-max-ttl: 0",
        "    cache-max-negative-ttl: 0",
        '    local-zone: "test." nodefault  # unbound answers .test itself (NXDOMAIN) unless told not to',
    ]
    if not forwarders:
        lines += ["    # Test profile, no test DNS: no name is looked up anywhere, and no server is ever asked.",
                  '    local-zone: "." refuse',
                  "    do-not-query-address: 0.0.0.0/0",
                  "    do-not-query-address: ::/0"]
        return "\n".join(lines) + "\n"
    lines += ["# Test profile: every question goes to the test network's DNS; never to the Internet's servers.",
              "forward-zone:",
              '    name: "."']
    lines += [f"    forward-addr: {server}" for server in forwarders]
    return "\n".join(lines) + "\n"


def render_defaults() -> str:
    return HEADER + (
        "# Read by Debian's unbound init script and unbound-helper: never hand unbound the servers of\n"
        "# /etc/resolv.conf (the resolvconf package) as forwarders; unbound recurses itself.\n"
        "RESOLVCONF=false\n"
        "RESOLVCONF_FORWARDERS=false\n"
        "USE_RESOLVCONF_FORWARDS=no\n")


def render_resolv_conf(original: str) -> str:
    """unbound alone, keeping the original's search domains and options."""
    kept = [line for line in original.splitlines() if line.split()[:1] in (["search"], ["domain"], ["options"])]
    return (HEADER + "# This machine asks mailtui's own resolver (unbound on loopback): the spam filter's block lists\n"
            "# refuse public and forwarding resolvers. The original comes back when the filter is switched off.\n"
            f"nameserver {resolver.ADDRESS}\n" + "".join(f"{line}\n" for line in kept))


def render_dhclient_hook() -> str:
    return HEADER + (
        "# Sourced by dhclient-script: keeps DHCP from replacing /etc/resolv.conf, which names mailtui's resolver.\n"
        "make_resolv_conf() {\n    :\n}\n")


def machine_resolv_conf(answers: Answers) -> str:
    """What /etc/resolv.conf holds once the resolver step is done (Postfix's chroot copy follows it): unbound
    with the filter on; without, the original if mailtui's file is still there (the step puts it back), else
    the file as it is."""
    if answers.spam.enabled:
        return render_resolv_conf(original_resolv_conf())
    now = files.read_text(resolver.RESOLV_CONF) or ""
    return original_resolv_conf() if now.startswith(HEADER) else now


# ---------------------------------------------------------------- resolv.conf


def check_configuration() -> None:
    if not resolver.ROOT_KEY.exists() and Path(resolver.HELPER).exists():
        # What unbound's service does before every start: the root's trust anchor from dns-root-data.
        run([resolver.HELPER, "root_trust_anchor_update"], check=False, timeout=60)
    result = run(["unbound-checkconf"], check=False, timeout=60)
    if not result.ok:
        raise StepFailed("unbound does not accept its configuration (unbound-checkconf):\n"
                         + "\n".join(result.output.strip().splitlines()[-10:]))


def unbound_answers(timeout: float = 3.0) -> str:
    """"" when unbound answers on loopback (a question it answers itself: localhost.), else why not."""
    try:
        answer = dns_query.query("localhost.", "A", server=resolver.ADDRESS, port=resolver.PORT, timeout=timeout)
    except dns_query.DnsUnreachable as exc:
        return str(exc)
    return "" if answer.rcode == "NOERROR" else f"it answered {answer.rcode} for localhost."


LOADED = "resolver.loaded"  # ctx.facts: unbound was (re)started on the configuration this run wrote


@dataclass
class ResolvConfResource:
    """/etc/resolv.conf naming unbound alone; switched over only once unbound answers."""

    content: str

    kind = "file"

    @property
    def target(self) -> str:
        return str(resolver.RESOLV_CONF)

    def describe(self) -> str:
        return f"file {resolver.RESOLV_CONF} (this machine asks unbound)"

    def pending(self, ctx: Context) -> Change | None:
        path = resolver.RESOLV_CONF
        now = files.read_text(path)
        if now == self.content and not path.is_symlink():
            return None
        what = "replace the symlink" if path.is_symlink() else "update" if now is not None else "create"
        return Change("file", self.target, f"{what} {path}: this machine asks unbound on {resolver.ADDRESS}",
                      unified_diff(now or "", self.content, self.target))

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        check_configuration()
        out.line(f"starting unbound on its new configuration before {resolver.RESOLV_CONF} names it")
        if services.is_running(resolver.SERVICE):
            safe_services.restart(resolver.SERVICE)
        else:
            safe_services.start(resolver.SERVICE)
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while (why := unbound_answers()) and time.monotonic() < deadline:
            time.sleep(0.3)
        if why:
            raise StepFailed(f"unbound does not answer on {resolver.ADDRESS}: {why}; "
                             f"{resolver.RESOLV_CONF} left as it was")
        # Last of the step's resources: unbound now runs on the configuration just written (the step need not
        # check and restart it again).
        ctx.facts[LOADED] = True
        if resolver.RESOLV_CONF.is_symlink():
            backups.record_original(resolver.RESOLV_CONF)
            os.unlink(resolver.RESOLV_CONF)
        files.write_file(resolver.RESOLV_CONF, self.content)


@dataclass
class OriginalResolvConfResource:
    """/etc/resolv.conf as it was before mailtui (the filter switched off): file content or symlink."""

    kind = "file"

    @property
    def target(self) -> str:
        return str(resolver.RESOLV_CONF)

    def describe(self) -> str:
        return f"file {resolver.RESOLV_CONF} as it was before mailtui"

    def _entry(self) -> dict[str, object] | None:
        entry = backups.load_index().get("paths", {}).get(self.target)
        return entry if entry and entry.get("was") in ("file", "symlink") else None

    def pending(self, ctx: Context) -> Change | None:
        entry = self._entry()
        path = resolver.RESOLV_CONF
        if entry is None:
            return None
        if entry["was"] == "symlink":
            if path.is_symlink() and os.readlink(path) == entry["target"]:
                return None
            return Change("file", self.target, f"link {path} to {entry['target']} again, as before mailtui "
                          f"({OFF_WHY})")
        original = backups.original_copy(path).read_text(errors="replace")
        now = files.read_text(path)
        if now == original and not path.is_symlink():
            return None
        return Change("file", self.target, f"put back {path} as it was before mailtui ({OFF_WHY})",
                      unified_diff(now or "", original, self.target))

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        entry = self._entry()
        assert entry is not None
        backups.put_back(resolver.RESOLV_CONF, entry)  # as rollback does: owner, mode, checked against its sha256


for _cls in (ResolvConfResource, OriginalResolvConfResource):
    Resource.register(_cls)


# ---------------------------------------------------------------- the step


class ResolverStep(Step):
    name = "resolver"
    title = "DNS resolver (unbound)"
    why = ("The spam filter asks DNS block lists about every sender; their operators refuse questions that come "
           "through public or forwarding resolvers. unbound on this machine asks the Internet's servers itself.")
    services = (resolver.SERVICE,)

    def enabled(self, ctx: Context) -> bool:
        return ctx.answers.spam.enabled or resolver.UNBOUND_CONF.exists()

    def feature_on(self, ctx: Context) -> bool:
        return ctx.answers.spam.enabled

    def resources(self, ctx: Context) -> Sequence[Resource]:
        a = ctx.answers
        if not a.spam.enabled:
            # resolv.conf first: the machine must not name unbound once it is stopped (unused_services).
            return [OriginalResolvConfResource(),
                    AbsentFileResource(str(resolver.UNBOUND_CONF), OFF_WHY),
                    AbsentFileResource(str(resolver.DHCLIENT_HOOK), OFF_WHY)]
        original = original_resolv_conf()
        forwarders = upstreams(original) if a.profile == "test" else []
        res: list[Resource] = [
            FileResource(str(resolver.UNBOUND_CONF), render_unbound(a, forwarders)),
            FileResource(str(resolver.UNBOUND_DEFAULTS), render_defaults()),
        ]
        if resolver.DHCLIENT_HOOKS.is_dir():
            res.append(FileResource(str(resolver.DHCLIENT_HOOK), render_dhclient_hook()))
        res.append(ResolvConfResource(render_resolv_conf(original)))
        return res

    def apply(self, ctx: Context) -> bool:
        ctx.facts.pop(LOADED, None)  # a retry of this step in the same run starts afresh
        return super().apply(ctx)

    def after_apply(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        if ctx.answers.spam.enabled and not ctx.facts.get(LOADED):
            check_configuration()

    def ensure_services(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        # Switching resolv.conf over restarted unbound on the new configuration already.
        super().ensure_services(ctx, out, changed and not ctx.facts.get(LOADED))

    def functional_checks(self, ctx: Context) -> list[Check]:
        if not ctx.answers.spam.enabled:
            return []
        why = unbound_answers()
        names = nameservers(files.read_text(resolver.RESOLV_CONF) or "")
        only = names == [resolver.ADDRESS]
        return [
            Check(f"unbound answers on {resolver.ADDRESS}:{resolver.PORT}", not why, why),
            Check(f"{resolver.RESOLV_CONF} names unbound ({resolver.ADDRESS}) alone", only,
                  "" if only else f"it names {', '.join(names) or 'no nameserver'} (DHCP or another tool "
                                  "rewrote it?)",
                  drift="" if only else "run the install again"),
        ]
