"""F1 on the wizard's install pages: the review, the install and the verify page's own help (step_help.py holds
the welcome and the forms' and puts them all together). Same rules: lines within HELP_WIDTH, under MAX_LINES;
ports read from the policy tables (through mailtui.api.types), never written here."""

from __future__ import annotations

from mailtui.api.types import PORTS

SMTP = next(p.number for p in PORTS if p.label == "SMTP")


def review() -> str:
    return """\
What this page shows
  Every change the install would make, step by step: files
  with their diffs, postconf settings, SQL, packages, firewall
  rules. Nothing has changed yet.
  Up / Down  move             Enter  read a change's diff (▸)
  n / p      next / previous diff, in the diff view
  Tab        on to the buttons

Buttons
  Back               to the last form
  Save answers…      writes the answers (root-only, passwords
                     only as hashes) for a later
                     mailtui install --answers FILE
  Confirm & install  starts the install

By hand
  The tutorial's ~40 edits went straight into the live files;
  a typo showed only when a service refused to start. mailtui
  shows them first and backs up every file it replaces
  (mailtui rollback puts the backups back).

Good to know
  - Packages not installed yet: their stock files cannot be
    diffed. The install pauses after the packages step and
    shows this page again with the real diffs.
  - A problem with the answers sends you to its field; Next
    there comes straight back here."""


def apply() -> str:
    return """\
What this page shows
  Each step with its state and progress, the live output and
  the time taken. The steps run in dependency order (packages,
  database, TLS, Postfix, Dovecot, firewall, fail2ban): a
  certificate exists before a service needs it.

If a step fails
  The reason and the last lines of output are shown.
  Retry           after fixing the cause; finished steps find
                  nothing to do
  Skip this step  only for steps nothing depends on
  Quit            leave; started again, mailtui offers to
                  resume

By hand
  The tutorial restarted each service after editing it and
  read the mail log when one failed. mailtui checks each
  configuration before it is put in place (postfix check,
  doveconf) and names the step that failed and why.

Good to know
  - The install runs by itself, detached from this terminal: an
    SSH drop never kills dpkg half-way. Start mailtui again and
    it re-attaches (or offers to resume).
  - Ctrl+Q while it runs only closes this window.
  - Every file replaced is backed up first; mailtui rollback
    puts the backups back."""


def verify() -> str:
    return f"""\
What this page shows
  A real message is sent to the first mailbox and read back over
  IMAPS; then each step's checks (services, listening ports,
  TLS, the maps answering); then the DNS records to publish and
  the settings for mail apps. ✓ passed; ✗ failed, with why.
  Run the checks again   after fixing something
  Dashboard              the day-to-day console

By hand
  The tutorial tested with postmap -q against each map,
  openssl s_client on the ports and a mail app.

Good to know (DNS is published at your DNS provider)
  - An A record for the hostname; each domain's MX names the
    hostname; SPF and DMARC as TXT records. All are listed here.
  - PTR: set at the provider of the IP (not in your zone), to
    the hostname. Without it, big mail services refuse mail.
  - Until new DNS records have spread, outside mail cannot find
    the server.
  - Outgoing port {SMTP} blocked: the round trip still passes (it
    stays on this machine) but mail to others waits in the
    queue (the dashboard's Queue tab). Use a relay host.
  - Later: mailtui check, mailtui dns, the dashboard's DNS tab."""
