"""Forwarding with SRS ([srs] in the answers): postsrsd rewrites the envelope sender of mail this server
forwards to an outside address, so that the final receiver's SPF check sees this server's own name.

Without it, a message from someone@gmail.example forwarded by an alias to an outside mailbox arrives from
this server's address with gmail.example's envelope sender: SPF fails there, and with DMARC p=reject the
forward is refused. With it, the envelope sender becomes SRS0=HASH=TT=gmail.example=someone@<hostname>;
a bounce to that address comes back here and postsrsd turns it back into someone@gmail.example.

Debian 12 and 13 both ship postsrsd 1.10 (REFERENCE-stack §8): its settings are /etc/default/postsrsd, its
two lookup services tcp:127.0.0.1:10001 (forward) and 10002 (reverse), which Postfix's canonical maps ask.
Mail from your own users is never rewritten (it would lose its DMARC alignment): Postfix first asks a map of
the domains in the database, which gives such a sender back unchanged (so a domain added in the dashboard
counts at once), and postsrsd also excludes the answers' domains and the hostname (`SRS_EXCLUDE_DOMAINS`).
Postfix asks for every sender, so mail from outside that is delivered here carries an SRS Return-Path too
(postsrsd 1.x cannot tell forwards apart).
"""

from __future__ import annotations

from collections.abc import Sequence

from mailtui.model.answers import Answers
from mailtui.report import Check
from mailtui.stack import probes
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.resources import FileResource, starts_with_line
from mailtui.system.commands import which

SERVICE = "postsrsd"
DEFAULTS_FILE = "/etc/default/postsrsd"
SECRET_FILE = "/etc/postsrsd.secret"
HOST = "127.0.0.1"
FORWARD_PORT = 10001
REVERSE_PORT = 10002
HEADER_LINE = "# Written by mailtui ([srs] in the answers); replaced on every install.\n"
# Postfix's canonical maps (steps/postfix.py main_cf): with SRS on, these; off, Postfix's defaults.
POSTFIX_ON = {
    "sender_canonical_maps": f"tcp:{HOST}:{FORWARD_PORT}",  # after the map of senders served here (main_cf)
    "sender_canonical_classes": "envelope_sender",
    "recipient_canonical_maps": f"tcp:{HOST}:{REVERSE_PORT}",
    "recipient_canonical_classes": "envelope_recipient, header_recipient",
}
POSTFIX_OFF = {
    "sender_canonical_maps": "",
    "sender_canonical_classes": "envelope_sender, header_sender",
    "recipient_canonical_maps": "",
    "recipient_canonical_classes": "envelope_recipient, header_recipient",
}


def postfix_params(answers: Answers, *, own_senders: str) -> dict[str, str]:
    """main.cf's canonical maps: with SRS on, `own_senders` (the map giving a sender of a domain served here
    back unchanged, policy/maps.py) before postsrsd, so your users' mail is never rewritten; off, Postfix's
    defaults."""
    if not answers.srs.enabled:
        return dict(POSTFIX_OFF)
    return {**POSTFIX_ON, "sender_canonical_maps": f"{own_senders}, {POSTFIX_ON['sender_canonical_maps']}"}


def excluded_domains(answers: Answers) -> list[str]:
    """Never rewritten by postsrsd: the host's own name and the answers' domains."""
    return list(dict.fromkeys([answers.hostname, *answers.domain_names]))


def render_defaults(answers: Answers) -> str:
    return HEADER_LINE + (
        "# postsrsd 1.10: the envelope sender of forwarded mail becomes SRS0=...@SRS_DOMAIN.\n"
        f"SRS_DOMAIN={answers.hostname}\n"
        "# Mail from these is never rewritten: this host and the domains it serves.\n"
        f"SRS_EXCLUDE_DOMAINS={','.join(excluded_domains(answers))}\n"
        "SRS_SEPARATOR==\n"
        f"SRS_SECRET={SECRET_FILE}\n"
        "SRS_HASHLENGTH=4\n"
        "SRS_HASHMIN=4\n"
        f"SRS_FORWARD_PORT={FORWARD_PORT}\n"
        f"SRS_REVERSE_PORT={REVERSE_PORT}\n"
        "RUN_AS=postsrsd\n"
        f"SRS_LISTEN_ADDR={HOST}\n"
        "CHROOT=/var/lib/postsrsd\n"
    )


def written_by_mailtui() -> bool:
    return starts_with_line(DEFAULTS_FILE, HEADER_LINE)


class SrsStep(Step):
    name = "srs"
    title = "Forwarding (SRS)"
    why = ("Mail your aliases forward to outside addresses keeps passing SPF at the final receiver: postsrsd "
           "rewrites its envelope sender to this server's name, and turns bounces back.")
    services = (SERVICE,)

    def enabled(self, ctx: Context) -> bool:
        # Switched off after an install: postsrsd is stopped (its settings file, mailtui's, stays as it was).
        return ctx.answers.srs.enabled or written_by_mailtui()

    def feature_on(self, ctx: Context) -> bool:
        # Off: postsrsd is stopped (unused_services) before the Postfix step stops asking it: mail arriving in
        # those seconds is deferred (4xx, retried), never lost.
        return ctx.answers.srs.enabled

    def resources(self, ctx: Context) -> Sequence[Resource]:
        if not ctx.answers.srs.enabled:
            return []
        return [FileResource(DEFAULTS_FILE, render_defaults(ctx.answers))]

    def functional_checks(self, ctx: Context) -> list[Check]:
        if not ctx.answers.srs.enabled:
            return []
        if which("postsrsd") is None:
            return [Check("postsrsd installed", False, "the packages step installs it when [srs] enabled = true")]
        return [probes.private_path_check(SECRET_FILE, "SRS secret", owner="root")]
