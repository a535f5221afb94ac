"""Re-zeroing the sensor on the desk's bottom end stop (`[sensor] rezero_at_bottom`, off by default).

An installer who sets the lower limit on the desk's own end stop knows the desk's height there to the
millimetre. When a move down to that limit ends and the desk comes to rest, the median resting reading
against that known height is how far the sensor's offset has drifted (a bracket knocked, a different
floor covering, air warmer than at calibration). A small difference is corrected; a large one is not
a drift but a fault (the sensor sees a bag on the floor, the desk is not on its stop) and is only
reported. Pure: readings and time in, a decision out.

It corrects readings that read high (the desk met its stop before the reading came down to the
limit, so it rests on the stop with a reading above it). Readings that read low make the controller
cut the motor before the stop; the desk then rests above the stop with a reading at the limit, and
nothing is learnt from that.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RezeroDecision:
    kind: str                 # "rezero": apply correction_mm to the offset; "refused": too far, report it
    correction_mm: float      # what to add to the sensor offset
    resting_mm: float         # the median reading at rest
    message: str


@dataclass
class BottomRezero:
    bottom_mm: float           # the desk's height resting on its bottom end stop (the lower limit)
    tolerance_mm: float = 2.0  # a move whose target is within this of the bottom is a move to the bottom
    max_jump_mm: float = 15.0  # a larger difference is a fault to report, never a silent re-zero
    min_error_mm: float = 1.0  # smaller is sensor noise: nothing to correct
    settle_s: float = 1.0      # the desk has stopped coasting by then
    # The offset moves every height after it: the median of 16 readings of a 2 mm sensor is good to
    # about 0.6 mm (of 5, to 1.1 mm: one re-zero in 20 was more than 2 mm off).
    min_readings: int = 16
    armed_at: float | None = None
    _readings: list[float] = field(default_factory=list)

    def move_ended(self, now: float, target_mm: float | None, start_mm: float) -> None:
        """A move ended: arm when it went down to the bottom."""
        self._readings.clear()
        down_to_bottom = (target_mm is not None and abs(target_mm - self.bottom_mm) <= self.tolerance_mm
                          and start_mm > target_mm)
        self.armed_at = now if down_to_bottom else None

    def moving(self) -> None:
        """The desk is asked to move again: whatever was being watched no longer rests on the stop."""
        self.armed_at = None
        self._readings.clear()

    def reading(self, now: float, height_mm: float | None) -> RezeroDecision | None:
        if self.armed_at is None or height_mm is None or now - self.armed_at < self.settle_s:
            return None
        self._readings.append(height_mm)
        if len(self._readings) < self.min_readings:
            return None
        resting = statistics.median(self._readings)
        self.armed_at = None
        self._readings.clear()
        error = resting - self.bottom_mm
        if abs(error) < self.min_error_mm:
            return None
        if abs(error) > self.max_jump_mm:
            return RezeroDecision("refused", 0.0, resting,
                                  f"not re-zeroed: the desk rests on its bottom end stop at {self.bottom_mm:g} mm but "
                                  f"the sensor reads {resting:.1f} mm ({error:+.1f} mm, more than the "
                                  f"{self.max_jump_mm:g} mm a drift can explain); check what the sensor sees and "
                                  f"run deskpi calibrate")
        return RezeroDecision("rezero", -error, resting,
                              f"re-zeroed on the bottom end stop: the sensor read {resting:.1f} mm at "
                              f"{self.bottom_mm:g} mm; offset corrected by {-error:+.1f} mm")
