"""`chinup record`'s terminal presentation: the recorder's status reports as one Rich live line on stderr.

The recorder (devices.recorder) only reports `PipelineStatus`; how a report reads and is drawn is decided here.
"""

from __future__ import annotations

from rich.console import Console
from rich.live import Live
from rich.text import Text

from devices.recorder import STATUS_REFRESH_PER_S, PipelineStatus


def status_line(status: PipelineStatus) -> str:
    """One line: state, bpm, battery, spool depth, uploaded count, malformed count, and fullness if full."""
    bpm = f"{status.bpm} bpm" if status.bpm is not None else "-- bpm"
    battery = f"{status.battery_pct} %" if status.battery_pct is not None else "--"
    full = f"  SPOOL FULL, {status.samples_dropped} dropped" if status.spool_full else ""
    return (
        f"{status.label} [{status.state}] {bpm}  battery {battery}  "
        f"spool {status.spool_depth}  uploaded {status.uploaded}  malformed {status.malformed}{full}"
    )


class StatusLine:
    """A live line refreshed a few times a second: started by the first report, ended by the final one.

    Pass it as `record(on_status=...)`: the recorder sends a final report however the recording ends.
    """

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self._live: Live | None = None
        self._closed = False

    def __call__(self, status: PipelineStatus) -> None:
        if self._closed:
            return
        if self._live is None:
            self._live = Live(console=self._console, refresh_per_second=STATUS_REFRESH_PER_S, transient=False)
            self._live.start()
        self._live.update(Text(status_line(status)))  # plain text: "[streaming]" is not Rich markup
        if status.final:
            self.close()

    def close(self) -> None:
        """Stop the live line, leaving its last state on screen."""
        if self._closed or self._live is None:
            self._closed = True
            return
        self._closed = True
        self._live.stop()
        if not self._console.is_terminal:  # Live ends its last line only on a terminal: what follows gets its own
            self._console.line()
