"""The pages for a phone, the web app manifest and /openapi.json.

Signed out, every page is the sign-in form. Static files and their
content-addressed URLs are deskpi.webapp.static_files.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, g, jsonify, render_template, request, send_from_directory, session
from jinja2 import TemplateNotFound

from deskpi import __version__
from deskpi.core.ergonomics import ErgonomicsError, recommend
from deskpi.core.habits.plan_names import catalogue, plan_label
from deskpi.people.accounts import plan_for
from deskpi.people.presets import SLOTS
from deskpi.util.checks import same_person
from deskpi.webapp.api_desk import SIM_KEYS, state_dict
from deskpi.webapp.api_people import describe_user
from deskpi.webapp.api_spec import served_api
from deskpi.webapp.context import context
from deskpi.webapp.reminder_card import reminder_card

PAGES = ("profile", "plan", "reminders", "stats", "admin")

pages = Blueprint("pages", __name__)


@pages.get("/openapi.json")
def openapi():
    return jsonify(served_api().openapi(title="deskpi", version=__version__))


@pages.get("/manifest.webmanifest")
def manifest():
    resp = send_from_directory(current_app.static_folder, "manifest.webmanifest")
    resp.mimetype = "application/manifest+json"
    return resp


def _values(name: str) -> dict:
    """What base.html needs: the desk's state, and who is signed in (their name, the CSRF token)."""
    ctx = context()
    user = g.get("user")
    snap = state_dict(ctx, user)
    has_users = ctx.has_store and bool(ctx.store.list_users())
    values = dict(page=name, snap=snap, sim=bool(snap.get("sim")), sim_keys=SIM_KEYS, slots=SLOTS,
                  user=None, csrf_token=None, next=request.path,
                  setup={"users_exist": has_users, "self_register": bool(ctx.policy()["self_register"])})
    if user is not None:
        profile = describe_user(ctx, user)
        live = _reminder_live(ctx, user, snap)
        units = profile.get("units") if profile.get("units") in ("cm", "in") else "cm"      # as base.html
        values.update(user=profile, csrf_token=session.get("csrf"), reminder_live=live is not None,
                      live_reminder=reminder_card(live, snap.get("height_mm"), units))
    return values


def _reminder_live(ctx, user, snap: dict) -> dict | None:
    """The reminder waiting for this person (live.js's forViewer rule: none while someone else is at the
    desk, nor while the reminders are still the previous person's), so the page has the reminder, and its
    room, from its first paint instead of jumping when it comes."""
    habits = getattr(ctx.service, "habits", None)
    reminders = habits.snapshot() if habits is not None else {}
    live, at_desk = reminders.get("reminder"), snap.get("active_user")
    yours = same_person(reminders.get("user"), at_desk) and (at_desk is None or same_person(at_desk, user.name))
    return live if live and yours else None


def _recommendation(ctx, profile: dict) -> dict | None:
    """The heights recommended for the person's saved height (as profile.js asks for them), so the
    profile page has the recommendation and its notes from its first paint instead of jumping when
    they arrive; the script then keeps them following what is typed."""
    stature, shoe = profile.get("stature_cm"), profile.get("shoe_mm")
    if not isinstance(stature, (int, float)):
        return None
    try:
        return recommend(float(stature), None if shoe is None else float(shoe), limits=ctx.limits()).to_dict()
    except (ErgonomicsError, TypeError, ValueError):
        return None


def page(name: str):
    ctx = context()
    user = g.get("user")
    values = _values(name)
    if user is None:
        template = "login.html"
    else:
        if name == "admin" and not ctx.is_admin(user):
            abort(403, f"the admin page is for admins; {user.name!r} is not one")
        if name == "plan":
            # The plan's name from the first paint: three lines on a phone that pushed the form down.
            values.update(plans=catalogue(), plan_now=plan_label(plan_for(ctx.store, user.name)[0]))
        if name == "profile":
            values.update(rec=_recommendation(ctx, values["user"]))
        template = f"{name}.html"
    try:
        return render_template(template, **values)
    except TemplateNotFound:
        return render_template("index.html", **values)


def error_page(status: int, title: str, message: str):
    """A page for a browser that asked for one and got an error (no such page, not for you): the
    same header, navigation and Stop bar as every page, with a way home."""
    return render_template("error.html", **_values("error"), title=title, message=message), status


@pages.get("/", endpoint="page_home")
@pages.get("/login", endpoint="page_login")
def home():
    return page("index")


for _name in PAGES:
    pages.add_url_rule(f"/{_name}", f"page_{_name}", lambda name=_name: page(name))
