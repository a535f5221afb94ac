"""What every part of the web app shares: the desk, the store, the claim, sign-in, the desk policy.

The desk policy (claim required, idle minutes, self-registration, automatic
moves) starts from the config file; an admin may change it from the admin
page, and that choice is kept in the database so it survives a restart.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from flask import current_app, g

from deskpi.util import checks
from deskpi.util.storage import healthy_view
from deskpi.webapp.api_spec import ApiError, show
from deskpi.webapp.auth import SignIn
from deskpi.webapp.claims import ClaimBook

#: Where create_app keeps the WebContext of an app.
EXTENSION = "deskpi.web"
#: policy key -> (kind, lo, hi)
POLICY = {"require_claim": (bool, None, None), "claim_idle_min": (float, 1.0, 1440.0),
          "self_register": (bool, None, None), "auto_moves_allowed": (bool, None, None)}


@dataclass
class WebDefaults:
    require_claim: bool = True
    claim_idle_min: float = 30.0
    self_register: bool = False
    session_days: int = 30
    auto_moves_allowed: bool = False

    @classmethod
    def from_settings(cls, settings) -> WebDefaults:
        web = settings.web
        return cls(require_claim=web.require_claim, claim_idle_min=web.claim_idle_min,
                   self_register=web.self_register, session_days=web.session_days,
                   auto_moves_allowed=settings.habits.auto_moves_allowed)


@dataclass
class WebContext:
    service: object
    claims: ClaimBook
    defaults: WebDefaults = field(default_factory=WebDefaults)
    signin: SignIn | None = None
    live: object | None = None
    reader: object | None = None
    token_touched: dict = field(default_factory=dict, repr=False)

    @property
    def store(self):
        st = getattr(self.service, "store", None)
        if st is None:
            raise ApiError(404, "this desk keeps no user data")
        return st

    @property
    def has_store(self) -> bool:
        return getattr(self.service, "store", None) is not None

    @property
    def habits(self):
        h = getattr(self.service, "habits", None)
        if h is None:
            raise ApiError(404, "reminders are not enabled on this desk")
        return h

    def limits(self) -> tuple[float, float]:
        lo, hi = self.service.limits
        return float(lo), float(hi)

    @property
    def reads(self):
        """The store for reads on every request: its own read-only connection when there is one."""
        return self.reader if self.reader is not None else self.store

    def session_user(self, sid):
        """The user of a live sign-in session no older than the configured days, or None."""
        return self.reads.user_for_session(sid, max_age_s=self.defaults.session_days * 86400.0)

    def storage_view(self) -> dict:
        """Whether the desk's storage is full (deskpi/util/storage.py), for the state snapshot and the page."""
        return self.store.storage.view() if self.has_store else healthy_view()

    def active_user(self):
        return self.reads.get_active_user() if self.has_store else None

    def close(self) -> None:
        if self.signin is not None:
            self.signin.gate.close()
        if self.live is not None:
            self.live.close()
        if self.reader is not None:
            self.reader.close()

    # -- the desk policy ------------------------------------------------------------
    def policy(self) -> dict:
        out = {}
        for key, (kind, _lo, _hi) in POLICY.items():
            value = getattr(self.defaults, key)
            if self.has_store:
                stored = self.reads.get_setting(f"policy.{key}")
                if stored is not None:
                    with contextlib.suppress(ValueError):        # a hand-edited setting: keep the default
                        value = (stored == "true") if kind is bool else kind(stored)
            out[key] = value
        return out

    def set_policy(self, changes: dict) -> dict:
        for key, value in changes.items():
            kind, lo, hi = POLICY[key]
            if kind is float and not lo <= value <= hi:
                raise ApiError(422, f"{key!r} {show(value)} is outside {lo:g}-{hi:g}")
        for key, value in changes.items():
            self.store.set_setting(f"policy.{key}", ("true" if value else "false") if isinstance(value, bool)
                                   else repr(float(value)))
        policy = self.policy()
        self.apply_policy(policy)
        return policy

    def apply_policy(self, policy: dict | None = None) -> None:
        policy = policy or self.policy()
        self.claims.idle_s = 60.0 * float(policy["claim_idle_min"])
        habits = getattr(self.service, "habits", None)
        if habits is not None and hasattr(habits, "set_auto_allowed"):
            habits.set_auto_allowed(bool(policy["auto_moves_allowed"]))

    # -- who is asking ----------------------------------------------------------------
    @staticmethod
    def user():
        return g.get("user")

    def claim_view(self, user=None) -> dict:
        name = None if user is None else user.name
        view = self.claims.view().for_user(name, required=bool(self.policy()["require_claim"]))
        if user is None:
            view["user"] = None          # who is at the desk is for signed-in colleagues only
        return view

    def may_move(self, user) -> bool:
        return not self.policy()["require_claim"] or self.claims.holds(user.name)

    def is_admin(self, user) -> bool:
        """Admins, and the desk's owner (the first person added), may manage everyone."""
        if user is None:
            return False
        if user.is_admin:
            return True
        owner = self.reads.get_owner() if self.has_store else None
        return owner is not None and owner.id == user.id

    def is_self_or_admin(self, name: str) -> bool:
        user = self.user()
        return user is not None and (checks.name_key(user.name) == checks.name_key(str(name)) or self.is_admin(user))


def context() -> WebContext:
    """The WebContext of the app handling this request: how a view reaches the desk, the store and the claim."""
    return current_app.extensions[EXTENSION]
