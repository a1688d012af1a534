from __future__ import annotations

from mailtui.system import apt


def test_status_lines_become_overall_percent() -> None:
    dl = apt.parse_status_line("dlstatus:3:50.0:Retrieving file 3 of 6")
    pm = apt.parse_status_line("pmstatus:postfix:50.0000:Configuring postfix (amd64)")
    assert dl and pm
    assert apt.overall_percent(dl) == 15.0
    assert apt.overall_percent(pm) == 65.0
    assert pm.package == "postfix"
    assert pm.message == "Configuring postfix (amd64)"


def test_messages_with_colons_and_garbage() -> None:
    line = apt.parse_status_line("pmconffile:/etc/x:80:'/etc/x' 'new': conffile prompt")
    assert line is not None and line.message == "'/etc/x' 'new': conffile prompt"
    assert apt.parse_status_line("garbage") is None
    assert apt.parse_status_line("pmstatus:x:notanumber:y") is None
