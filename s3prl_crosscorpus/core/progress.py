"""Progress bars, the one place of their settings: tqdm on a terminal, plain periodic lines in a log.

Every bar of the project (and s3prl's runner's, through ``superb.compat``) is a :class:`Progress`. When
its stream is a terminal it is an ordinary tqdm bar. When it is not (a job log, a pipe, CI), a bar
writes one ordinary line (``desc: 12/30 point [00:05<00:07, 2.40 point/s]``) at most every
:data:`PLAIN_INTERVAL` seconds, and a last one when an outermost bar finishes (``leave``): no carriage returns, no
cursor movements (the ``[A`` escapes of nested bars), no redraw after every ``tqdm.write``.
"""
import os
import sys
import time
from typing import Any

from tqdm import tqdm

#: Seconds between two lines of a bar that writes to a log (not a terminal).
PLAIN_INTERVAL = float(os.environ.get("S3PRL_CROSSCORPUS_PROGRESS_INTERVAL", "30"))
#: A bar's line in a log: no bar drawing, every figure.
PLAIN_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is an interactive terminal (a closed or odd stream is not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Progress(tqdm):
    """tqdm on a terminal; on any other stream, a plain line every PLAIN_INTERVAL seconds and at the end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.plain = not is_terminal(kwargs.get("file") or sys.stderr)
        self._plain_t = time.monotonic()
        if self.plain:
            kwargs.update(mininterval=max(kwargs.get("mininterval", 0.1), PLAIN_INTERVAL),
                          bar_format=PLAIN_FORMAT, dynamic_ncols=False, ncols=None, ascii=True)
        super().__init__(*args, **kwargs)

    def display(self, msg: Any = None, pos: Any = None) -> bool:
        """On a terminal tqdm's redraw; in a log one line, at most every PLAIN_INTERVAL seconds."""
        if not self.plain:
            return super().display(msg, pos)
        if msg is None and self.n and time.monotonic() - self._plain_t >= PLAIN_INTERVAL:
            self._line()
        return True

    def _line(self) -> None:
        """Write the bar's state as one line."""
        self.fp.write(self.__str__() + "\n")
        getattr(self.fp, "flush", lambda: None)()
        self._plain_t = time.monotonic()

    def clear(self, nolock: bool = False) -> None:
        """On a terminal tqdm's clear; in a log nothing (lines are never erased)."""
        if not self.plain:
            super().clear(nolock)

    def moveto(self, n: int) -> None:
        """On a terminal tqdm's cursor movement; in a log none."""
        if not self.plain:
            super().moveto(n)

    def close(self) -> None:
        """On a terminal tqdm's close; in a log the last line of an outermost bar that is left (``leave``) and
        moved (a nested bar, e.g. s3prl's one per epoch, would add a line per epoch)."""
        if not self.plain or getattr(self, "disable", True):
            return super().close()
        leave = abs(self.pos) == 0 and self.leave is not False
        self.disable = True
        self._decr_instances(self)
        if leave and self.n:
            self._ema_dt = lambda: None  # the overall rate, as tqdm's last line
            self._line()


def progress(*args: Any, **kwargs: Any) -> Progress:
    """A progress bar (tqdm's arguments); see :class:`Progress`."""
    return Progress(*args, **kwargs)
