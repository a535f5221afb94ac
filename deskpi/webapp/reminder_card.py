"""The live reminder's card as the server draws it on the home and reminders pages: the same words
reminder.js (reminderView) writes into it, so the card has its full size from the first paint
instead of growing when the script fills it in (a stretch's steps pushed the page down by half a
screen). reminder.js keeps it up to date from then on; keep the two in step.
"""
from __future__ import annotations

import math

AT_TARGET_MM = 15          # this close to the reminder's height, there is nothing to move (as reminder.js)
BREAKS = ("move", "stretch")
TITLES = {"stand": "Time to stand up", "sit": "Time to sit down", "move": "Time to move",
          "stretch": "Time for a stretch"}


def _number(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def height(mm: float, units: str) -> str:
    """As units.js height(): "64.2 cm", "25.3 in" or "642 mm"."""
    if units == "in":
        return f"{mm / 25.4:.1f} in"
    if units == "cm":
        return f"{mm / 10:.1f} cm"
    return f"{mm:.0f} mm"


def reminder_card(r: dict | None, height_mm: object, units: str) -> dict | None:
    """What the card shows for the live reminder `r` with the desk at `height_mm`, in `units`."""
    if not isinstance(r, dict):
        return None
    kind = str(r.get("kind") or "")
    target = r.get("target") or None
    stretch = r.get("stretch") if isinstance(r.get("stretch"), dict) else None
    here, to, minutes = _number(height_mm), _number(r.get("target_mm")), _number(r.get("minutes"))
    there = bool(target) and to is not None and here is not None and abs(here - to) <= AT_TARGET_MM
    lower = to < here if to is not None and here is not None else target == "sit"
    auto = r.get("mode") == "auto"
    is_break = kind in BREAKS
    then_move = bool(target) and not there
    note = ""
    if then_move and to is None:
        note = f"There is no {target} preset to go to: use the desk's own buttons, or save one on the home page."
    elif then_move and auto and is_break:
        note = (f"When the break is over, the desk {'lowers' if lower else 'raises'} itself to {height(to, units)} "
                "after a warning; press any desk button to cancel. Done records the break and moves nothing.")
    elif then_move and auto:
        note = "The desk moves by itself after a short warning; press any desk button to cancel."
    elif then_move:
        note = "Done records it and moves nothing."
    message = str(r.get("message") or "")
    if not message and minutes is not None:
        message = f"For about {minutes:g} min."
    duration = _number(stretch.get("duration_s")) if stretch else None
    seconds = duration if duration is not None else (round(minutes * 60) if is_break and minutes is not None else 0)
    title = str(stretch["title"]) if stretch and stretch.get("title") else TITLES.get(kind, "Time to change posture")
    return {
        "id": str(r.get("id") or ""), "kind": kind, "is_break": is_break, "title": title,
        "message": message.strip(),
        "helps": str(stretch.get("helps") or "") if stretch else "",
        "steps": [str(s) for s in stretch.get("steps") or []] if stretch else [],
        "cautions": [str(c) for c in stretch.get("cautions") or []] if stretch else [],
        "seconds": seconds,
        "move": f"{'Lower' if lower else 'Raise'} to {height(to, units)} now" if then_move and to is not None else "",
        "later": "Remind me when I'm back" if then_move and is_break and not auto else "",
        "note": note,
    }
