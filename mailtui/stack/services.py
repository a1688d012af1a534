"""mailtui's own service actions: the plain ones (system/services.py) plus what keeps mail safe around them.

Stopping or restarting Dovecot pauses Postfix's LMTP deliveries around it (lmtp_quiesce.py), so no
message being delivered at that moment is saved by Dovecot and then delivered again by Postfix; every
service action first undoes such a pause that a killed mailtui left behind.
"""

from __future__ import annotations

from mailtui.errors import MailtuiError
from mailtui.stack import lmtp_quiesce
from mailtui.system import services as plain
from mailtui.system.commands import Result

# Dovecot's master PID after mailtui's start or restart that reloaded Postfix once Dovecot was back up: the
# reload that reconnect_postfix_to_dovecot() would do is done already.
_postfix_reloaded_for: int | None = None


def _with_notes(result: Result, *notes: str) -> Result:
    """`result` with mailtui's own notes (what it did around the command) after the command's output."""
    text = "\n".join(n.strip() for n in notes if n and n.strip())
    if not text:
        return result
    output = result.output.rstrip("\n")
    return Result(result.argv, result.returncode, f"{output}\n{text}" if output else text)


def _repair() -> str:
    """Every service action first undoes a deferral of Postfix's LMTP deliveries that a killed mailtui
    left behind (see lmtp_quiesce)."""
    return lmtp_quiesce.repair_leftover()


def start(name: str, timeout: float = 30) -> Result:
    """Start a service. Dovecot: mail that Postfix deferred meanwhile because Dovecot was down (or because
    mailtui paused the deliveries) is asked for at once (Postfix reloaded, `postqueue -i`), instead of at
    Postfix's next retry, 5 minutes or more later."""
    global _postfix_reloaded_for
    repaired = _repair()
    result = plain.control(name, "start", check=False)
    if not plain.wait_until(name, True, timeout):
        raise MailtuiError(f"{plain.info(name).label} did not start:\n{result.output.strip()}")
    if name != "dovecot":
        return _with_notes(result, repaired)
    delivered, reloaded = lmtp_quiesce.deliver_after_start()
    if reloaded:
        _postfix_reloaded_for = plain.main_pid("dovecot")
    return _with_notes(result, repaired, delivered)


def stop(name: str, timeout: float = 30, *, drain_wait: float = lmtp_quiesce.WAIT_SECONDS) -> Result:
    """Stop a service. Dovecot: Postfix's LMTP deliveries are paused first and every one in flight
    finishes (lmtp_quiesce), so none is cut off after Dovecot saved the message; once Dovecot is down
    `defer_transports` is put back, and mail then waits in Postfix's queue (deferred: its LMTP socket
    is gone) until Dovecot is started again."""
    if name != "dovecot":
        return _with_notes(plain.stop_and_wait(name, timeout), _repair())
    with lmtp_quiesce.quiesced("stop", wait_seconds=drain_wait) as quiesce:
        result = plain.stop_and_wait(name, timeout)
    return _with_notes(result, *quiesce.notes)


def restart(name: str, timeout: float = 30, *, drain_wait: float = lmtp_quiesce.WAIT_SECONDS) -> Result:
    """Restart a service. Dovecot: Postfix's LMTP deliveries are paused around it (lmtp_quiesce):
    a delivery cut off by the shutdown would be saved by Dovecot and delivered again by Postfix.

    Only mailtui's restart does this: `service dovecot restart` (or systemctl) typed by hand is outside
    mailtui's control and can still duplicate a message that is being delivered at that moment."""
    global _postfix_reloaded_for
    if name != "dovecot":
        return _with_notes(plain.restart_and_wait(name, timeout), _repair())
    with lmtp_quiesce.quiesced("restart", wait_seconds=drain_wait) as quiesce:
        result = plain.restart_and_wait(name, timeout)
        quiesce.wait_for_listener()
    delivered = ""
    if not quiesce.listening:  # nothing was paused: ask for what waited for Dovecot, as after a start
        delivered, quiesce.reloaded = lmtp_quiesce.deliver_after_start()
    if quiesce.reloaded:
        _postfix_reloaded_for = plain.main_pid("dovecot")
    return _with_notes(result, *quiesce.notes, delivered)


def reload(name: str) -> Result:
    repaired = _repair()
    return _with_notes(plain.control(name, "reload"), repaired)


def reconnect_postfix_to_dovecot() -> str:
    """Postfix's idle smtpd processes keep their connection to Dovecot's auth socket; once Dovecot
    restarts or reloads, the next AUTH in each of them fails once with "454 4.7.0 Temporary
    authentication failure: Connection lost to authentication server" (measured on Debian 12).
    `postfix reload` replaces them (sessions in progress finish first). Returns what was done.
    Skipped when mailtui's restart of Dovecot reloaded Postfix already, after Dovecot was back."""
    global _postfix_reloaded_for
    if not plain.is_running("postfix"):
        return ""
    done, _postfix_reloaded_for = _postfix_reloaded_for, None
    if done is not None and done == plain.main_pid("dovecot"):
        return ("\n(Postfix was reloaded once Dovecot was back: its smtpd processes reconnect to Dovecot's "
                "authentication)")
    result = reload("postfix")
    return ("\n" + result.output.strip() if result.output.strip() else "") + \
        "\npostfix reload (its smtpd processes reconnect to Dovecot's authentication)"
