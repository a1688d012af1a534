"""mailtui.system.commands.run: output kept whole and handed over line by line while the program runs, stdin,
exit codes, a timeout that kills, a program killed by a signal. The programs are this Python (the only program
the machine guard lets the unit tier run), with the guard's environment."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from mailtui.errors import CommandFailed
from mailtui.system import commands
from tests import guard


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_output_of_both_streams_in_order_and_the_exit_code() -> None:
    code = "import sys; print('one', flush=True); print('two', file=sys.stderr, flush=True); sys.exit(3)"
    result = commands.run(py(code), check=False, env=guard.child_env())
    assert (result.returncode, result.output) == (3, "one\ntwo\n")
    with pytest.raises(CommandFailed) as failed:
        commands.run(py(code), env=guard.child_env())
    assert failed.value.returncode == 3 and "two" in str(failed.value)


def test_stdin_and_a_last_line_without_a_newline() -> None:
    lines: list[str] = []
    code = "import sys; sys.stdout.write(sys.stdin.read().upper() + 'ü€ end')"
    result = commands.run(py(code), input="a\nb\n", on_line=lines.append, env=guard.child_env())
    assert result.output == "A\nB\nü€ end"
    assert lines == ["A", "B", "ü€ end"]


def test_lines_reach_on_line_while_the_program_still_runs(tmp_path: Path) -> None:
    """The program prints a line, then waits until on_line has seen it (a file the callback makes): lines
    handed over only at the end would leave it waiting until the timeout kills it."""
    flag = tmp_path / "seen"
    code = ("import os, sys, time\nprint('first', flush=True)\n"
            f"while not os.path.exists({str(flag)!r}): time.sleep(0.01)\nprint('second')")
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        if line == "first":
            flag.touch()

    result = commands.run(py(code), on_line=on_line, timeout=30, env=guard.child_env())
    assert seen == ["first", "second"] and result.output == "first\nsecond\n"


def test_a_timeout_kills_the_program_and_fails_naming_it() -> None:
    with pytest.raises(CommandFailed) as failed:
        commands.run(py("import time; print('started', flush=True); time.sleep(120)"), timeout=0.5,
                     env=guard.child_env())
    assert failed.value.returncode == -9
    assert "started" in str(failed.value) and "timed out after 0.5 s and was killed" in str(failed.value)


def test_a_program_killed_by_a_signal_fails_with_the_signal() -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert commands.run(py(code), check=False, env=guard.child_env()).returncode == -9


def test_a_main_cf_that_postconf_replaced_is_moved_out_of_postfixs_cool_down(tmp_path: Path) -> None:
    """Postfix's programs wait while main.cf's mtime is within a second of the clock: after a successful
    `postconf -e/-X` the file is set 2 s into the past; master.cf, a failed command, and a main.cf already older
    than that are left alone."""
    main, master = tmp_path / "main.cf", tmp_path / "master.cf"
    main.write_text("a = b\n")
    master.write_text("smtp inet n - y - - smtpd\n")
    before = time.time_ns()
    commands._finish(["postconf", "-c", str(tmp_path), "-e", "a=c"], commands.effect_of(
        ["postconf", "-c", str(tmp_path), "-e", "a=c"]), [], 1)
    assert main.stat().st_mtime_ns >= before - 10**9  # failed: untouched
    commands._finish(["postconf", "-M", "x/inet=…"], commands.Effect(files=(str(master),)), [], 0)
    assert master.stat().st_mtime_ns >= before - 10**9
    argv = ["postconf", "-c", str(tmp_path), "-e", "a=c"]
    assert commands.effect_of(argv).files == (str(main),)
    commands._finish(argv, commands.effect_of(argv), [], 0)
    settled = main.stat().st_mtime_ns
    assert before - 3 * 10**9 < settled <= time.time_ns() - 2 * 10**9
    old = settled - 3600 * 10**9
    os.utime(main, ns=(old, old))
    commands._finish(argv, commands.effect_of(argv), [], 0)
    assert main.stat().st_mtime_ns == old
    assert not commands.settle_main_cf(tmp_path / "missing" / "main.cf")
