"""The certificate line the dashboard shows (ops/certificate.py): where the served certificate comes from, its
expiry, when certbot starts renewing it, and what is wrong — for each TLS mode."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mailtui import paths
from mailtui.model import answers_file
from mailtui.ops import certificate

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.timezone.utc)
ACME = 'hostname = "mail.example.test"\n[tls]\nmode = "acme"\nemail = "hostmaster@example.test"\n'
LIVE = "/etc/letsencrypt/live/mail.example.test/fullchain.pem"


def status(monkeypatch: pytest.MonkeyPatch, text: str, served: str, days: float | None,
           failure: str | None = None) -> certificate.CertificateStatus:
    monkeypatch.setattr(certificate, "served_pair", lambda _a: (served, served.replace("cert", "key")))
    monkeypatch.setattr(certificate.certificates, "not_after",
                        lambda _c: None if days is None else NOW + dt.timedelta(days=days))
    monkeypatch.setattr(certificate.certificates.files, "read_text", lambda _p: failure)
    return certificate.certificate_status(answers_file.loads(text), NOW)


def test_acme_shows_expiry_and_the_day_renewals_start(monkeypatch: pytest.MonkeyPatch) -> None:
    s = status(monkeypatch, ACME, LIVE, 89.5)
    assert s.line(NOW) == ("Certificate for mail.example.test from the ACME CA: expires 2027-03-06 (90 days), "
                           "renewed from 2027-02-04")
    assert s.problem == ""
    assert status(monkeypatch, ACME, LIVE, 10).problem == "under 14 days left: renewals are failing"
    assert status(monkeypatch, ACME, LIVE, -1).problem == "expired"


def test_acme_without_the_cas_certificate_names_the_failed_order(monkeypatch: pytest.MonkeyPatch) -> None:
    s = status(monkeypatch, ACME, paths.SELF_SIGNED_CERT, 800, "Some challenges have failed.\nConnection refused\n")
    assert s.source == "self-signed (until the CA's is there)" and s.renews_from is None
    assert s.problem == "the last order failed: Some challenges have failed. / Connection refused"
    assert status(monkeypatch, ACME, paths.SELF_SIGNED_CERT, 800).problem == "no certificate from the CA yet"


def test_self_signed_and_own_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = status(monkeypatch, 'hostname = "mail.example.test"\n', paths.SELF_SIGNED_CERT, 800)
    assert s.line(NOW).startswith("Certificate for mail.example.test self-signed: expires 2029-02-13")
    assert s.problem == "" and s.renews_from is None
    own = tmp_path / "cert.pem"
    files_mode = f'hostname = "mail.example.test"\n[tls]\nmode = "files"\ncert = "{own}"\nkey = "{own}"\n'
    assert status(monkeypatch, files_mode, str(own), 5).problem == "under 14 days left"
    unreadable = status(monkeypatch, files_mode, str(own), None)
    assert unreadable.problem == f"{own} cannot be read" and "expiry unknown" in unreadable.line(NOW)
