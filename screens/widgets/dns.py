"""A DNS report (records to publish, mail client settings) as the screens show it: the Verify screen and
the dashboard's DNS tab share it. Long values wrap; `mailtui dns` and "Write to a file" give them whole."""

from __future__ import annotations

from rich.text import Text

from mailtui.api.types import DnsReport


def records_text(report: DnsReport) -> Text:
    t = Text("DNS records to publish\n", style="bold")
    for r in report.records:
        t.append(f" {r.name} ", style="bold")
        t.append(f"{r.type} ", style="cyan")
        t.append(f"{r.value}\n")
        if r.note:
            t.append(f"   {r.note}\n", style="dim")
    return t


def settings_text(report: DnsReport) -> Text:
    t = Text("Mail client settings\n", style="bold")
    for s in report.settings:
        t.append(f" {s.label}: ", style="bold")
        t.append(f"{s.value}\n")
    return t
