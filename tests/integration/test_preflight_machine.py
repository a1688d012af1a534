"""Preflight on the real machine: its listeners, its database server, the whole survey (changes nothing and
never raises)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from mailtui import paths
from mailtui.install import preflight
from mailtui.model.answers import Answers


def test_a_real_listener_is_found_with_its_process_name() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        (status,) = preflight.port_statuses([(port, "test")])
    assert status.in_use
    assert status.by == Path("/proc/self/comm").read_text().strip()  # our own fds are always readable


def test_tutorial_database_is_false_without_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailtui.stack import db

    monkeypatch.setattr(db, "local_socket", lambda: None)
    assert preflight.has_tutorial_database() is False
    monkeypatch.setattr(db, "local_socket", lambda: "/nonexistent/mysqld.sock")
    assert preflight.has_tutorial_database() is False  # connect fails: False, never raises


def test_run_preflight_on_this_machine_changes_nothing_and_never_raises(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "ANSWERS_FILE", tmp_path / "no-answers.toml")
    monkeypatch.setattr(paths, "INSTALL_STATE", tmp_path / "state.json")
    before = sorted(os.listdir(tmp_path))
    result = preflight.run_preflight()
    assert sorted(os.listdir(tmp_path)) == before
    assert result.is_root == (os.geteuid() == 0)
    assert [p.port for p in result.ports] == [25, 587, 465, 993, 143, 110]
    assert result.earlier_install is False and result.install_state == "idle"
    assert result.hostname
    assert result.mail_log in (None, paths.MAIL_LOG)
    assert isinstance(result.suggested_answers(), Answers)
    if result.supported and result.is_root:
        assert result.problems == []


def test_problems_for_not_root_and_an_unsupported_release(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailtui.system import platform

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(platform.Platform, "detect", classmethod(
        lambda cls, *a: cls("centos", "9", "", "CentOS Stream 9", False)))
    result = preflight.run_preflight()
    assert not result.is_root and not result.supported and result.os_pretty == "CentOS Stream 9"
    assert len(result.problems) == 2
    assert "must run as root" in result.problems[0]
    assert "CentOS Stream 9 is not a supported release" in result.problems[1]
