"""PID 1 of a throwaway test host: say "ready", then reap zombies until killed.

Runs with the *test host's* python3 (3.11 on bookworm, 3.13 on trixie), fed on stdin, so it must stay
standard-library only and compatible with both. The harness reads one line from our stdout; after that
stdout/stderr point at /dev/null so nothing the harness does later can block or SIGPIPE us.
"""

import os
import signal
import sys


def _reap_all() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _detach_stdio() -> None:
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)


def main() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    # PID 1 of a namespace ignores signals it has no handler for; make SIGTERM/SIGINT end the host.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    sys.stdout.write(f"ready pid={os.getpid()}\n")
    sys.stdout.flush()
    _detach_stdio()
    os.chdir("/")
    while True:
        _reap_all()
        signal.sigwaitinfo({signal.SIGCHLD})


if __name__ == "__main__":
    main()
