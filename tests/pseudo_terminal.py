"""A command run on a pseudo-terminal, as a person would run it: keys typed, the screen's bytes read as they come."""

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

# Terminal control sequences (cursor moves, bracketed paste on and off), which are not text on the screen.
CONTROL = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")

UP, LEFT = b"\x1b[A", b"\x1b[D"


class PseudoTerminal:
    """Runs `args` with a terminal of `columns` × `rows` as its stdin, stdout and stderr."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, columns: int = 100, rows: int = 40) -> None:
        controller, terminal = pty.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        # COLUMNS and LINES would override the terminal's size (pytest-xdist's workers export them), as they do for a
        # person who exports them; a shell does not by default.
        env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
        self.process = subprocess.Popen(args, stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=cwd)
        os.close(terminal)
        self.fd = controller
        self.seen = bytearray()
        self.mark = 0

    def expect(self, wanted: bytes, timeout: float = 120) -> bytes:
        """What the terminal showed from the last expectation up to and including `wanted`, once it shows."""
        deadline = time.monotonic() + timeout
        while (found := self.seen.find(wanted, self.mark)) < 0:
            assert time.monotonic() < deadline, f"{wanted!r} never showed; the terminal showed {bytes(self.seen)!r}"
            ready, _, _ = select.select([self.fd], [], [], 1)
            if ready:
                try:
                    self.seen.extend(os.read(self.fd, 4096))
                except OSError as closed:  # the terminal closes with the process
                    raise AssertionError(f"{wanted!r} never showed: {bytes(self.seen)!r}") from closed
        shown, self.mark = bytes(self.seen[self.mark : found + len(wanted)]), found + len(wanted)
        return shown

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def close(self) -> int:
        """Waits for the process to end; its exit status."""
        try:
            return self.process.wait(timeout=60)
        finally:
            self.process.kill()
            os.close(self.fd)


def text(shown: bytes) -> str:
    """The text of what the terminal showed, control sequences removed."""
    return CONTROL.sub(b"", shown).decode("utf-8", errors="replace")
