"""Bounded logging of lines that repeat: the first at once, then at most one a minute with a count.

Why: a paired strap that can never connect (switched off, out of range, or an address typed in to fill the
log) is retried about once a second for as long as it stays paired. One line per attempt is some 200
bytes a second per strap: 300 such straps wrote about 200 MB an hour. Each owner of a repeating line (a
strap's link, a supervised recording, an uploader) holds its own limiter, so the limit is per strap and
nothing global grows with the number of straps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["REPEAT_LOG_EVERY_S", "RepeatLimiter"]

REPEAT_LOG_EVERY_S = 60.0


class RepeatLimiter:
    """One kind of line from one source: logged the first time, then at most once per `every_s`.

    The lines held back in between are counted, and the next line logged says how many there were
    ("… (failed 37 more times in the last 60 s)"), so nothing is hidden, only summarised.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        every_s: float = REPEAT_LOG_EVERY_S,
        verb: str = "failed",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Args: `verb` names the repeats in the summary ("failed"); `clock` is monotonic seconds, injected
        for tests."""
        if every_s <= 0:
            raise ValueError(f"every_s must be positive, got {every_s}")
        self._logger = logger
        self.every_s = every_s
        self._verb = verb
        self._clock = clock
        self._last_s: float | None = None
        self.held = 0  # lines held back since the last one logged

    def log(self, level: int, msg: str, *args: object, exc_info: bool = False) -> bool:
        """Log the line now, with the count of the ones held back, or hold it; True when it was logged."""
        now_s = self._clock()
        last_s = self._last_s
        if last_s is not None and 0 <= now_s - last_s < self.every_s:
            self.held += 1
            return False
        if self.held and last_s is not None:
            msg = f"{msg} (%s %d more times in the last %.0f s)"
            args = (*args, self._verb, self.held, now_s - last_s)
        self.held, self._last_s = 0, now_s
        self._logger.log(level, msg, *args, exc_info=exc_info)
        return True
