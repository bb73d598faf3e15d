"""Run a command as the terminal's foreground job, so that one Ctrl-C reaches the command and not `make`.

GNU make re-raises an interrupt on itself once its recipe has ended, so `make run` would report status 130 even
after every process stopped cleanly. A job-control shell avoids that by giving each job a process group of its own
and handing it the terminal; this does the same for one command. Ctrl-C then reaches only the command (supervisord,
which stops the service in order), make sees the command's own exit status, and the terminal goes back to make.
Without a terminal (CI, tests, a service manager) the command simply runs in place.
"""

import os
import signal
import subprocess
import sys


def main(argv: list[str]) -> int:
    terminal = sys.stdin.isatty()
    if terminal:
        previous = os.tcgetpgrp(sys.stdin.fileno())
        os.setpgid(0, 0)
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background group may take the terminal only so
        os.tcsetpgrp(sys.stdin.fileno(), os.getpgrp())
    # The command decides what Ctrl-C means; this process only waits for it and passes its status on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.call(argv, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    finally:
        if terminal:
            os.tcsetpgrp(sys.stdin.fileno(), previous)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
