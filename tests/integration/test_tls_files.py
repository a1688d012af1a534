"""The operator's own certificate: checked against its key and the hostname before anything changes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mailtui.model import answers, answers_file
from mailtui.steps import tls


def make_cert(tmp: Path, name: str, cn: str, days: int = 30) -> tuple[Path, Path]:
    cert, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(days),
                    "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def answers_with(cert: Path, key: Path, hostname: str = "mail.example.test") -> answers.Answers:
    return answers_file.loads(f'hostname = "{hostname}"\n[tls]\nmode = "files"\ncert = "{cert}"\nkey = "{key}"\n')


def test_matching_files_pass(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "good", "mail.example.test")
    assert tls.operator_files_problem(answers_with(cert, key)) is None


def test_key_of_another_certificate(tmp_path: Path) -> None:
    cert, _ = make_cert(tmp_path, "a", "mail.example.test")
    _, other_key = make_cert(tmp_path, "b", "mail.example.test")
    assert "does not belong" in tls.operator_files_problem(answers_with(cert, other_key))


def test_certificate_for_another_name(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "c", "www.example.test")
    assert "not valid for mail.example.test" in tls.operator_files_problem(answers_with(cert, key))


def test_not_a_certificate(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("hello\n")
    _, key = make_cert(tmp_path, "d", "mail.example.test")
    assert "not a PEM certificate" in tls.operator_files_problem(answers_with(junk, key))


def test_preflight_stops_the_install_before_changes(tmp_path: Path) -> None:
    cert, _ = make_cert(tmp_path, "e", "mail.example.test")
    _, key = make_cert(tmp_path, "f", "mail.example.test")
    ctx = type("Ctx", (), {"answers": answers_with(cert, key)})()
    assert tls.TlsStep().preflight(ctx)  # type: ignore[arg-type]
