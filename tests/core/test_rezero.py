"""Re-zeroing on the bottom end stop: armed by a move down to the bottom, decided from readings at rest."""
from __future__ import annotations

import pytest

from deskpi.core.motion.rezero import BottomRezero

FEW = 5       # readings at rest the logic tests decide on (the product waits for more)


def rest_on_stop(rz: BottomRezero, start: float, readings, *, dt: float = 0.15):
    decision, t = None, start
    for h in readings:
        decision = rz.reading(t, h) or decision
        t += dt
    return decision


def test_a_reading_that_drifted_high_is_re_zeroed_on_the_stop():
    rz = BottomRezero(bottom_mm=640.0, max_jump_mm=15.0, min_readings=FEW)
    rz.move_ended(100.0, 640.0, 900.0)
    assert rz.reading(100.5, 646.0) is None                       # still coasting: not yet
    d = rest_on_stop(rz, 101.0, [646.2, 645.8, 646.0, 652.0, 646.1])
    assert d is not None and d.kind == "rezero"
    assert d.correction_mm == pytest.approx(-6.1, abs=0.01) and "re-zeroed" in d.message
    assert rz.reading(103.0, 646.0) is None                       # once per arrival at the stop


def test_a_large_jump_is_reported_not_applied():
    rz = BottomRezero(bottom_mm=640.0, max_jump_mm=15.0, min_readings=FEW)
    rz.move_ended(0.0, 640.0, 900.0)
    d = rest_on_stop(rz, 1.0, [700.0] * 5)
    assert d.kind == "refused" and d.correction_mm == 0.0
    assert "not re-zeroed" in d.message and "+60.0 mm" in d.message and "15 mm" in d.message


@pytest.mark.parametrize(("target", "start"), [(900.0, 700.0), (700.0, 900.0), (None, 900.0), (640.0, 630.0)])
def test_only_a_move_down_to_the_bottom_arms_it(target, start):
    rz = BottomRezero(bottom_mm=640.0, min_readings=FEW)
    rz.move_ended(0.0, target, start)
    assert rest_on_stop(rz, 1.0, [650.0] * 8) is None


def test_noise_is_not_a_drift_and_a_new_move_disarms():
    rz = BottomRezero(bottom_mm=640.0, min_readings=FEW)
    rz.move_ended(0.0, 640.0, 900.0)
    assert rest_on_stop(rz, 1.0, [640.4, 639.8, 640.2, 640.0, 640.5]) is None
    rz.move_ended(10.0, 640.0, 900.0)
    rz.moving()
    assert rest_on_stop(rz, 12.0, [650.0] * 8) is None
