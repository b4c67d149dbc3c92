"""One error hierarchy for the pure analysis package; leaves carry the data that explain them."""

from __future__ import annotations


class AnalysisError(ValueError):
    """Root of every error raised by ``service.analysis``: the input cannot be analysed as given."""


class TooFewBeats(AnalysisError):
    """A metric needs more RR intervals than were given (after artefact correction)."""

    def __init__(self, n_beats: int, minimum: int) -> None:
        super().__init__(f"{n_beats} RR intervals given, at least {minimum} needed")
        self.n_beats = n_beats
        self.minimum = minimum


class InvalidSeries(AnalysisError):
    """An input array has the wrong shape or holds values no physiological series can hold."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class InvalidProfile(AnalysisError):
    """A heart profile cannot hold: resting HR must lie below HRmax, both within human limits."""

    def __init__(self, resting_hr: float, max_hr: float, reason: str) -> None:
        super().__init__(f"resting_hr={resting_hr}, max_hr={max_hr}: {reason}")
        self.resting_hr = resting_hr
        self.max_hr = max_hr
        self.reason = reason
