"""What the CLI and the web API both say about people: users as shown, statistics.

One place for the logic, so `deskpi stats --json` and `GET /api/v1/stats`
cannot drift apart.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

STATS_DAYS = (1, 400)                    # the store keeps 400 days of height log
GOAL_NOTE = ("Standing goal: from each person's plan, on the plan's working days only: the plan's ramp for the "
             "week since the person was added (week 1 is their first seven days), or, for a plan without a ramp, "
             "the standing its sit/stand rhythm holds over the working day; no goal on days off, holidays or "
             "before the person was added. A week's goal is the sum of its days'.")


def user_dict(user: Any, active: Any, owner: Any) -> dict[str, Any]:
    """What is shown of a user: never the PIN hash, only whether there is one."""
    return {
        "name": user.name,
        "role": user.role,
        "stature_cm": user.stature_cm,
        "shoe_mm": user.shoe_mm,
        "seated_mm": user.seated_mm,
        "standing_mm": user.standing_mm,
        "units": user.units,
        "active": active is not None and active.id == user.id,
        "owner": owner is not None and owner.id == user.id,
        "has_pin": user.pin_hash is not None,
        "created_at": user.created_at,
    }


def last_desk_use(store: Any, user: Any) -> float | None:
    """When the person last used the desk (unix seconds), or None: their newest entry in the audit trail
    (every move, hold, stop, preset and fault clear, from their phone, a script of theirs, or the desk's
    own buttons while they were the one at the desk), counting only since their account was created
    (an earlier person of the same name is not them)."""
    found = store.list_audit(user=user.name, since=user.created_at, limit=1)
    return found[0].t if found else None


def rename_person(store: Any, user: Any, new_name: str, *, field: str = "name") -> Any:
    """Give a person a new name; the one way the admin page and `deskpi user rename` do it.

    The rules and errors of adding a person (case-insensitive, lookalikes count; the store's
    `rename_user`); what they did under the old name stays theirs. A refusal is the store's ValueError,
    naming the new name as `field` (the API's body field, the CLI's argument)."""
    try:
        return store.rename_user(user.name, new_name)
    except ValueError as exc:
        raise type(exc)(str(exc).replace("new_name = ", f"{field} = ", 1)) from None


def reset_pin(store: Any, user: Any, *, hash_pin: Callable[[str], str] | None = None) -> tuple[str, list[str]]:
    """Give a person a new PIN drawn by the desk (`draw_pin`): (the PIN, to be shown once, and notes).

    The one way the admin page and `deskpi user reset-pin` do it. Like any PIN change it ends all
    their sessions and revokes their API tokens. `hash_pin`: how to hash it (the web app's PIN-check
    slots; default `hash_secret`)."""
    from deskpi.people.passwords import draw_pin, hash_secret

    pin = draw_pin()
    pin_hash = (hash_pin or hash_secret)(pin)
    tokens = len(store.list_tokens(user.name))
    store.update_user(user.name, pin_hash=pin_hash)     # ends all their sessions and revokes their tokens
    return pin, [f"Tell {user.name} the new PIN in person: it is not shown again.",
                 f"{user.name} is signed out on every phone and browser, and {tokens} API token"
                 f"{'' if tokens == 1 else 's'} of theirs {'was' if tokens == 1 else 'were'} revoked."]


def may_manage(user: Any, owner: Any) -> bool:
    """Admins, and the desk's owner (the first person added), may manage everyone."""
    return user.is_admin or (owner is not None and owner.id == user.id)


def last_admin_refusal(store: Any, user: Any, *, demoting: bool = False) -> str | None:
    """Why `user` may not be removed (or, `demoting`, stop being an admin), or None.

    The desk keeps at least one person who may manage it (an admin, or the owner): the API answers this with
    409, the CLI with exit 1.
    """
    owner = store.get_owner()
    if not (user.is_admin if demoting else may_manage(user, owner)):
        return None
    others = [u for u in store.list_users() if u.id != user.id and may_manage(u, owner)]
    if others:
        return None
    return (f"{user.name!r} is the last admin; make someone else an admin first "
            f"(`deskpi user set NAME --admin`, or the admin page)")


def local_zone(name: str | None):
    """The zone to count days in: --tz NAME, else the system's local zone (DST-aware), else UTC."""
    import os
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"tz = {name!r}: not a known time zone; use an IANA name such as "
                           f"'Europe/Berlin' or 'UTC'") from None
    env = os.environ.get("TZ", "").lstrip(":")
    candidates = [env] if env else []
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for c in candidates:
        try:
            return ZoneInfo(c)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        return ZoneInfo("UTC")



def goal_since(user: Any, zone=None):
    """The local day a person's standing goal counts from: the day their account was created, in `zone`
    (default: this machine's). The habit service and the statistics both start the ramp here."""
    from deskpi.core.habits.local_days import local_date

    return local_date(user.created_at, zone or local_zone(None))


def stats_report(store, *, user: str | None = None, days: int = 7, zone=None, now: float | None = None,
                 summed: bool = True) -> dict:
    """Sitting/standing statistics from the measured height log; ValueError/LookupError on bad input.

    summed: the days that are over come from the store's summed days (deskpi/people/stats_days.py), the same
    figures as counting every row again (False: count them, what the tests compare against)."""
    from deskpi.core.habits.local_days import day_start, local_date
    from deskpi.core.habits.plans import week_number
    from deskpi.core.habits.posture_stats import DEFAULT_MAX_GAP_S, daily
    from deskpi.people.stats_days import closed_days

    lo, hi = STATS_DAYS
    if isinstance(days, bool) or not isinstance(days, int) or not lo <= days <= hi:
        raise ValueError(f"days = {days!r}: must be a whole number of days within {lo}-{hi} "
                         f"(the height log keeps {hi} days)")
    if now is not None and not (isinstance(now, (int, float)) and math.isfinite(now) and now >= 0):
        raise ValueError(f"now = {now!r}: must be a unix time in seconds (>= 0)")
    zone = zone or local_zone(None)
    now = time.time() if now is None else float(now)
    last_day = local_date(now, zone)
    first_day = last_day - timedelta(days=days - 1)
    t0 = max(0.0, day_start(first_day, zone) - 86400.0)      # a day of lead-in: the height at the first midnight
    users = store.list_users()
    if user is not None:
        found = store.get_user(user)
        if found is None:
            known = ", ".join(u.name for u in users) or "none yet"
            raise LookupError(f"user = {user!r}: no such user (users: {known})")
        report = [found.name]
    else:
        report = [u.name for u in users]
    active = store.get_active_user()
    profiles = {u.name: {"seated_mm": u.seated_mm, "standing_mm": u.standing_mm} for u in users}
    timeline = store.active_user_timeline(t0, now + 1.0)
    recorded = bool(timeline)
    if not recorded:      # a database from before the history was kept
        timeline = [(0.0, active.name)] if active is not None else []
    # Summed days follow the recorded history; without one every row is counted for the active user.
    closed = (closed_days(store, zone, first_day, last_day, now, profiles, None if user is None else report)
              if summed and recorded else None)
    if closed is None:
        rows = [store.height_points_between(t0, now + 1.0, include_previous=True)]
        reminders = store.list_reminders(since=t0, until=now + 1.0)
    else:           # the lead-in sets the latch at the first midnight; then only the rows after the closed days
        closed.lead_rows = store.height_points_between(t0, day_start(first_day, zone) + DEFAULT_MAX_GAP_S,
                                                       include_previous=True)
        rows = [store.height_points_between(closed.cut - DEFAULT_MAX_GAP_S, now + 1.0, include_previous=True)]
        reminders = store.list_reminders(since=closed.cut, until=now + 1.0)
    plans = {}                    # name -> (plan, the day its goals count from: the day the person was added)
    goals: dict[str, dict[str, Any]] = {}
    # One person's plan alone when one is reported (the live status asks often); everyone's in one query.
    stored = store.stored_plans() if user is None else {found.name: store.get_plan(found.name)}
    for u in users:
        if u.name not in report:
            continue
        plan, source = plan_of(stored.get(u.name))
        start = goal_since(u, zone)
        plans[u.name] = (plan, start)
        week = week_number(start, last_day) if start <= last_day else None
        goals[u.name] = {"standing_goal_min": None if week is None else plan.working_day_goal_min(week),
                         "source": "plan" if source == "stored" else "default",
                         "since": start.isoformat(), "week": week}

    same = {name: (repr(plan), start) for name, (plan, start) in plans.items()}
    known: dict[tuple, float | None] = {}     # a shared desk's people mostly share a plan and a first day

    def goal_of(name: str, day) -> float | None:
        plan, start = plans.get(name, (None, None))
        if plan is None:
            return None
        key = (same[name], day)
        if key not in known:
            known[key] = plan.standing_goal_min(day, start)
        return known[key]

    result = daily(_handed_over(rows), timeline, profiles, zone, days, now, reminders, goal_of, users=report,
                   closed=closed, goal_groups=same)
    who = ("Who was at the desk comes from the recorded active-user history (`user use`, desk claims)."
           if recorded else
           "Who was at the desk: no active-user history is recorded in this window, so all measured time is "
           + (f"counted for the current active user {active.name!r}." if active is not None
              else "'unassigned' (there is no active user now)."))
    notes = [
        who,
        GOAL_NOTE,
        ("Sitting/standing come from the measured desk height (between the person's seated and standing "
         "heights: 'between'); gaps of more than 15 min in the height log (daemon off) count as unknown."),
    ]
    result.update({"days": days, "active_user": None if active is None else active.name,
                   "goals": {name: goals[name] for name in report}, "notes": notes})
    return result


def _handed_over(box: list):
    """The rows in `box`, which forgets them: once read they are not kept while the days are counted."""
    yield from box.pop()


def standing_today(store, name: str, *, now: float | None = None, zone=None) -> dict[str, Any]:
    """A person's standing today as every place shows it: their day in `stats_report` (the function
    `deskpi stats` and the statistics API use), so the home line and the reminders page cannot count
    differently. {"date", "standing_min", "standing_goal_min", "goal_progress", "posture_changes",
    "reminders"}; LookupError for an unknown name."""
    day = stats_report(store, user=name, days=1, zone=zone, now=now)["users"]
    found = next(iter(day.values()))["days"][-1]
    return {k: found[k] for k in ("date", "standing_min", "standing_goal_min", "goal_progress", "posture_changes",
                                  "reminders")}


def plan_for(store, name: str):
    """The user's plan (validated), or the default plan when none was set or the stored one is invalid."""
    return plan_of(store.get_plan(name))


def plan_of(stored: Any):
    """A stored plan (or None) as `plan_for` gives it: validated, else the default plan and why."""
    from deskpi.core.habits.plans import DEFAULT_PLAN, Plan, PlanError, printable_name

    if stored is None:
        return DEFAULT_PLAN, "default"
    doc = stored.doc
    if isinstance(doc, dict) and isinstance(doc.get("name"), str):
        # Names stored before control characters were refused: the person's plan is still theirs, its name shown
        # without them (refused, the whole plan would fall back to the default after an upgrade).
        doc = {**doc, "name": printable_name(doc["name"])}
    try:
        return Plan.from_dict(doc), "stored"
    except PlanError:
        return DEFAULT_PLAN, "default (the stored plan is invalid)"


def set_plan(store, name: str, doc: object):
    """Validate a plan document (missing fields come from its kind's preset) and store it in full."""
    from deskpi.core.habits.plans import Plan

    plan = Plan.from_dict(doc)            # PlanError (a ValueError) names every bad field
    full = plan.to_dict()
    store.set_plan(name, full, kind=plan.kind)
    return full


def heights_for(stature_cm: float, *, limits: tuple[float, float], shoe_mm: float | None = None,
                sex: str | None = None, seated_mm: float | None = None, standing_mm: float | None = None
                ) -> tuple[float | None, float | None, list[str]]:
    """Seated/standing heights recommended from stature (explicit ones win), with the advice notes."""
    from deskpi.core.ergonomics import recommend

    rec = recommend(stature_cm, shoe_mm, sex=sex, limits=limits)
    notes = list(rec.notes)
    seated = rec.sit_mm if seated_mm is None else seated_mm
    standing = rec.stand_mm if standing_mm is None else standing_mm
    if standing_mm is None and seated is not None and standing <= seated:
        notes.append(f"The desk's travel ({limits[0]:g}-{limits[1]:g} mm) leaves no standing height above "
                     f"the seated {seated:g} mm: no standing height was set.")
        standing = None
    return seated, standing, notes


def desk_notes(seated_mm: float | None, standing_mm: float | None, limits: tuple[float, float]) -> list[str]:
    lo, hi = limits
    return [f"The {label} height {v:g} mm is outside the desk's travel {lo:g}-{hi:g} mm: "
            f"the desk will stop at its limit."
            for label, v in (("seated", seated_mm), ("standing", standing_mm)) if v is not None and not lo <= v <= hi]


def add_user(store, name: str, *, limits: tuple[float, float], stature_cm: float | None = None,
             shoe_mm: float | None = None, sex: str | None = None, seated_mm: float | None = None,
             standing_mm: float | None = None, units: str = "cm", admin: bool = False,
             pin_hash: str | None = None) -> tuple[Any, list[str]]:
    """Add a person; heights come from stature (explicit ones win). The first person owns the desk."""
    notes: list[str] = []
    if stature_cm is not None:
        seated_mm, standing_mm, notes = heights_for(stature_cm, limits=limits, shoe_mm=shoe_mm, sex=sex,
                                                    seated_mm=seated_mm, standing_mm=standing_mm)
    notes += desk_notes(seated_mm, standing_mm, limits)
    first = not store.list_users()
    user = store.add_user(name, stature_cm=stature_cm, shoe_mm=shoe_mm, seated_mm=seated_mm,
                          standing_mm=standing_mm, units=units, role="admin" if admin else "user", pin_hash=pin_hash)
    if first:
        store.set_owner(user.name)
        store.set_active_user(user.name)
        notes.append("The first user: now the desk's owner and the active user.")
    return user, notes
