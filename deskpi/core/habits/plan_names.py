"""What a plan is called where a person sees it: words made from the plan's own numbers.

"Sit 30 min, stand 15 min, move 2 min; standing rises from 1 h to 4 h a day over 12 weeks".
A stored name would go stale the moment someone changes a number, so every page, the CLI and
the API name a plan with `plan_label` (a name the person gave it comes first).
"""
from __future__ import annotations

from dataclasses import replace

from deskpi.core.habits.plans import DEFAULT_PLAN, PRESETS, RAMPS, Plan


def duration(minutes: float) -> str:
    """Minutes as a person says them: "45 min", "1 h", "2 h 8 min"."""
    total = round(minutes)
    hours, mins = divmod(total, 60)
    if not hours:
        return f"{mins} min"
    return f"{hours} h" if not mins else f"{hours} h {mins} min"


def rhythm_phrase(plan: Plan) -> str:
    """ "Sit 30 min, stand 15 min, move 2 min" (no movement part when the plan has none)."""
    parts = [f"Sit {duration(plan.sit_min)}", f"stand {duration(plan.stand_min)}"]
    if plan.move_min:
        parts.append(f"move {duration(plan.move_min)}")
    return ", ".join(parts)


def goal_phrase(plan: Plan) -> str:
    """How much standing a day the plan asks for, and how that changes week by week."""
    points = plan.ramp_points
    if points is None:
        return f"standing {duration(plan.rhythm_standing_min())} a day"
    first, last = points[0][1], points[-1][1]
    if len(points) == 1 or first == last:
        return f"standing {duration(first)} a day"
    weeks = points[-1][0]
    verb = "rises" if last > first else "falls"
    return f"standing {verb} from {duration(first)} to {duration(last)} a day over {weeks} weeks"


def plan_label(plan: Plan) -> str:
    """The plan's name for people: what it does, after the name its owner gave it (if any)."""
    words = f"{rhythm_phrase(plan)}; {goal_phrase(plan)}"
    own = plan.name.strip()
    return f"{own}: {words}" if own else words


def catalogue() -> dict[str, dict]:
    """What the plan page offers: each preset plan's label, each named ramp's goal in words and its
    (week, minutes) points (where a person's own ramp starts from)."""
    return {"kinds": {kind: plan_label(plan) for kind, plan in PRESETS.items()},
            "ramps": {name: goal_phrase(replace(DEFAULT_PLAN, kind="custom", ramp=name)) for name in RAMPS},
            "points": {name: [list(p) for p in points] for name, points in RAMPS.items()}}
