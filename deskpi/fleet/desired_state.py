"""One desk's desired state in one TOML file: `deskpi apply` converges to it, `deskpi export` writes it.

The file (the same format both ways, so export -> apply -> export round-trips)::

    owner = "Ana"                       # optional: the person the desk is assigned to ("" = nobody)

    [settings.desk]                     # any config sections/keys (deskpi.example.toml); others are left alone
    min_mm = 650.0

    [[users]]
    name = "Ana"
    stature_cm = 168.0                  # without seated_mm/standing_mm: the ergonomic heights for the desk
    seated_mm = 700.0
    standing_mm = 1050.0
    units = "cm"
    admin = true
    pin_hash = "scrypt$16384$8$1$..."   # from `deskpi hash-pin`; or pin_file = "pins/ana" (a hash or the PIN,
                                        # relative to this file); never a plain PIN here; false = no PIN
    [users.plan]                        # `deskpi plan show --json` fields; missing ones come from `kind`
    kind = "cornell"
    [users.presets]                     # when present: the user's complete saved presets, slot = height mm
    "3" = 900.0

What is not in the file is left alone: keys absent from a user, users absent
from the file (unless --prune), settings keys not listed. Everything is
validated before anything changes, and every problem is reported at once
(file, line where it can be found, key, value, what is allowed). The changes
are made under the config file's lock, in one database transaction, with the
config file replaced atomically inside that transaction: an error anywhere
leaves both as they were.
"""
from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskpi.config import SCHEMA, ConfigError, Settings, from_mapping
from deskpi.fleet.config_edit import EditError, config_lock, edited_text, locate, plain, read_text, to_toml_value
from deskpi.util import checks
from deskpi.util.files import InputTooLarge, atomic_write, read_text_capped

TOP_KEYS = ("owner", "settings", "users")
USER_KEYS = ("name", "stature_cm", "shoe_mm", "seated_mm", "standing_mm", "units", "admin", "pin_hash", "pin_file",
             "plan", "presets")
NO_PIN = object()        # `pin_hash = false`: the user must have no PIN
PIN_FILE_MAX_BYTES = 4096 # a hash or a PIN, as `--pin-stdin` reads at most


class ApplyError(ValueError):
    """The desired-state file is not acceptable; nothing was changed. `problems`: every reason."""

    def __init__(self, problems: list[dict[str, Any]], source: str) -> None:
        self.problems = problems
        self.source = source
        lines = [_problem_line(source, p) for p in problems]
        super().__init__(lines[0] + "; nothing was changed" if len(lines) == 1 else
                         f"{source}: {len(lines)} problems, nothing was changed:\n  - " +
                         "\n  - ".join(lines))


def _problem_line(source: str, p: dict[str, Any]) -> str:
    where = source + (f":{p['line']}" if p.get("line") else "")
    return f"{where}: {p['message']}"


@dataclass
class DesiredUser:
    index: int                                   # 1-based position among [[users]], for messages
    name: str
    fields: dict[str, Any] = field(default_factory=dict)       # store user fields (role, not admin)
    pin: tuple[str, Any] | None = None           # ("hash", h) | ("secret", s) | ("none", None)
    plan: dict[str, Any] | None = None           # the full, validated plan document
    presets: dict[int, float] | None = None


@dataclass
class Desired:
    path: Path
    settings: dict[tuple[str, str], Any]         # validated, typed values of the listed keys
    merged: Settings                             # the config the desk will run with
    owner: Any                                   # a name, None = no owner, ... = not in the file
    users: list[DesiredUser] | None              # None = no `users` key (prune never applies)


# ---------------------------------------------------------------------------------------- loading

class _Problems:
    def __init__(self, text: str) -> None:
        self.text = text
        self.items: list[dict[str, Any]] = []

    def add(self, key: str, message: str, line: int | None = None) -> None:
        text = f"{key} {message}" if message.startswith("= ") else f"{key}: {message}"
        self.items.append({"key": key, "line": line, "message": text if key else message})


def load(path: str | os.PathLike[str], config_path: Path) -> Desired:
    """Parse and validate a desired-state file against the current config; ApplyError lists every problem."""
    path = Path(path)
    try:
        # `ssh desk deskpi apply - < desk.toml`: no copy needed. Never more than INPUT_MAX_BYTES read.
        text = read_text_capped(path, what="a desired-state file", dash_is_stdin=True)
        if str(path) == "-":
            path = Path("<stdin>")
    except InputTooLarge as exc:
        raise ApplyError([{"key": None, "line": None, "message": exc.reason}],
                         "<stdin>" if str(path) == "-" else str(path)) from None
    except FileNotFoundError:
        raise ApplyError([{"key": None, "line": None, "message": "no such file"}], str(path)) from None
    except UnicodeDecodeError as exc:
        raise ApplyError([{"key": None, "line": None, "message": f"not UTF-8 text (byte {exc.start})"}],
                         str(path)) from None
    except OSError as exc:
        raise ApplyError([{"key": None, "line": None, "message": f"cannot read it: {exc.strerror}"}],
                         str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        import re

        m = re.search(r"at line (\d+)", str(exc))
        raise ApplyError([{"key": None, "line": int(m.group(1)) if m else None,
                           "message": f"not valid TOML: {exc}"}], str(path)) from None
    probs = _Problems(text)
    for key in data:
        if key not in TOP_KEYS:
            probs.add(key, f"unknown top-level key; allowed: {', '.join(TOP_KEYS)} "
                           f"(config sections go under [settings.SECTION])")
    settings, merged = _load_settings(data.get("settings", {}), config_path, probs)
    base = Path.cwd() if str(path) == "<stdin>" else path.parent       # pin_file paths are relative to it
    users = _load_users(data["users"], base, merged, probs) if "users" in data else None
    owner: Any = ...
    if "owner" in data:
        owner = data["owner"]
        if not isinstance(owner, str):
            probs.add("owner", f"= {owner!r}: must be a user's name, or \"\" for no owner")
        elif owner.strip() and users is not None and not any(_same(u.name, owner) for u in users):
            probs.add("owner", f"= {owner!r}: must be one of the users in this file "
                               f"({', '.join(u.name for u in users) or 'none'}), or \"\" for no owner")
        owner = owner.strip() if isinstance(owner, str) else owner
    if probs.items:
        raise ApplyError(probs.items, str(path))
    return Desired(path, settings, merged, owner or None if owner is not ... else ..., users)


def _load_settings(raw: Any, config_path: Path, probs: _Problems) -> tuple[dict, Settings]:
    from deskpi.config import defaults

    if not isinstance(raw, dict) or any(not isinstance(v, dict) for v in raw.values()):
        probs.add("settings", f"= {raw!r}: must be tables [settings.SECTION] with SECTION one of "
                              f"{', '.join(SCHEMA)}")
        return {}, defaults()
    current: dict[str, Any] = {}
    try:
        current_text = read_text(config_path)
        current = tomllib.loads(current_text) if current_text else {}
    except (EditError, tomllib.TOMLDecodeError) as exc:
        probs.add("", f"the current config {config_path} cannot be read: {exc}")
    merged_map = {s: dict(v) for s, v in current.items() if isinstance(v, dict)}
    for section, values in raw.items():
        merged_map.setdefault(section, {}).update(values)
    try:
        merged = from_mapping(merged_map, str(config_path))
    except ConfigError as exc:
        import re

        for msg in exc.problems:
            m = re.search(r"\[(\w+)\] (\w+)", msg) or re.search(r"\[(\w+)\]", msg)
            section = m.group(1) if m else None
            key = m.group(2) if m and m.lastindex == 2 else None
            in_file = section in raw and (key is None or key in raw[section])
            line = locate(probs.text, f"settings.{section}", key) if in_file else None
            where = f"settings.{section}" + (f".{key}" if key else "") if in_file else ""
            probs.add(where, msg + ("" if in_file else f" (in the current config {config_path})"), line)
        return {}, defaults()
    wanted = {(s, k): getattr(getattr(merged, s), k) for s, values in raw.items() for k in values}
    return wanted, merged


def _same(a: str, b: str) -> bool:
    """Two spellings of one person's name (case, spacing and lookalikes folded, as the store compares them)."""
    from deskpi.store import name_key

    return name_key(a) == name_key(b)


def _load_users(raw: Any, base: Path, merged: Settings, probs: _Problems) -> list[DesiredUser]:
    from deskpi.store import name_key, valid_name

    if not isinstance(raw, list) or any(not isinstance(u, dict) for u in raw):
        probs.add("users", "must be an array of tables: [[users]] name = \"Ana\" ...")
        return []
    out: list[DesiredUser] = []
    seen: dict[str, int] = {}
    for i, u in enumerate(raw, 1):
        label = f"users[{i}]" + (f" ({u['name']})" if isinstance(u.get("name"), str) else "")

        def bad(key: str, message: str, _i=i, _label=label) -> None:
            probs.add(f"{_label}.{key}", message, _locate_user_key(probs.text, _i, key))

        for key in u:
            if key in ("pin", "password", "secret"):
                bad(key, "plain PINs and passwords never go into this file: use pin_hash = \"scrypt$...\" "
                         "(made by `deskpi hash-pin`) or pin_file = PATH (a file holding the hash or the PIN)")
            elif key not in USER_KEYS:
                bad(key, f"= {u[key]!r}: unknown user key; allowed: {', '.join(USER_KEYS)}")
        try:
            name = valid_name(u.get("name"), "name")
        except ValueError as exc:
            bad("name", str(exc).removeprefix("name ") if "name" in u else "missing: every user needs a name")
            continue
        key = name_key(name)
        if key in seen:
            bad("name", f"= {name!r}: listed twice (also users[{seen[key]}]; names are case-insensitive and "
                        f"lookalike spellings count as the same name)")
        seen[key] = i
        du = DesiredUser(i, name)
        _user_fields(u, du, merged, bad)
        _user_pin(u, du, base, bad)
        if "plan" in u:
            _user_plan(u["plan"], du, bad)
        if "presets" in u:
            _user_presets(u["presets"], du, bad)
        out.append(du)
    return out


def _locate_user_key(text: str, index: int, dotted: str) -> int | None:
    """Line of `plan.sit_min` (or `seated_mm`) inside the index-th [[users]] entry, else of its header."""
    import re

    table, _, key = dotted.rpartition(".")
    want = "users" + (f".{table}" if table else "")
    seen, current, start = 0, None, None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("[[") and s.strip("[] ") == "users":
            seen += 1
            if seen > index:
                break
            current, start = "users", n if seen == index else start
            continue
        if s.startswith("["):
            current = s.strip("[] ")
            continue
        if seen == index and current == want and re.match(rf'^\s*"?{re.escape(key)}"?\s*=', line):
            return n
    return start


def _user_fields(u: dict, du: DesiredUser, merged: Settings, bad) -> None:
    from deskpi.people.accounts import heights_for
    from deskpi.store import HEIGHT_MM, SHOE_MM, STATURE_CM, UNITS

    numbers = {"stature_cm": (STATURE_CM, "cm"), "shoe_mm": (SHOE_MM, "mm"), "seated_mm": (HEIGHT_MM, "mm"),
               "standing_mm": (HEIGHT_MM, "mm")}
    for key, ((lo, hi), unit) in numbers.items():
        if key in u:
            with _reported(bad, key):
                du.fields[key] = round(checks.number(key, u[key], lo, hi, unit), 1)
    if "units" in u:
        with _reported(bad, "units"):
            du.fields["units"] = checks.choice("units", u["units"], UNITS)
    if "admin" in u:
        if isinstance(u["admin"], bool):
            du.fields["role"] = "admin" if u["admin"] else "user"
        else:
            bad("admin", f"= {u['admin']!r}: must be true or false")
    if "stature_cm" in du.fields and not ("seated_mm" in u and "standing_mm" in u):
        # Heights follow from the stature (a pure function of it and the desk), so a re-apply is stable.
        seated, standing, _ = heights_for(du.fields["stature_cm"], limits=(merged.desk.min_mm, merged.desk.max_mm),
                                          shoe_mm=du.fields.get("shoe_mm"),
                                          seated_mm=du.fields.get("seated_mm"),
                                          standing_mm=du.fields.get("standing_mm"))
        du.fields.setdefault("seated_mm", None if seated is None else round(float(seated), 1))
        du.fields.setdefault("standing_mm", None if standing is None else round(float(standing), 1))
    s, t = du.fields.get("seated_mm"), du.fields.get("standing_mm")
    if s is not None and t is not None and s >= t:
        bad("seated_mm", f"= {s:g}: must be below standing_mm = {t:g}")


def _user_pin(u: dict, du: DesiredUser, base: Path, bad) -> None:
    from deskpi.people.passwords import is_valid_hash, strip_stdin_newline, validate_secret

    if "pin_hash" in u and "pin_file" in u:
        bad("pin_file", "give pin_hash or pin_file, not both")
        return
    if "pin_hash" in u:
        h = u["pin_hash"]
        if h is False:
            du.pin = ("none", None)
        elif is_valid_hash(h):
            du.pin = ("hash", h)
        else:
            shown = f"<{len(h)} characters>" if isinstance(h, str) else repr(h)   # never echo a secret
            bad("pin_hash", f"= {shown}: must be a hash made by `deskpi hash-pin` (scrypt$...), or false "
                            f"for no PIN; never a plain PIN")
    elif "pin_file" in u:
        ref = u["pin_file"]
        if not isinstance(ref, str) or not ref:
            bad("pin_file", f"= {ref!r}: must be a path to a file holding the PIN's hash or the PIN")
            return
        p = Path(ref) if Path(ref).is_absolute() else base / ref
        try:
            content = strip_stdin_newline(read_text_capped(p, PIN_FILE_MAX_BYTES, what="a PIN file"))
        except (OSError, ValueError) as exc:            # unreadable, too big, not UTF-8
            bad("pin_file", f"= {ref!r}: cannot read {p}: {getattr(exc, 'strerror', None) or exc}")
            return
        if is_valid_hash(content.strip()):
            du.pin = ("hash", content.strip())
            return
        try:
            du.pin = ("secret", validate_secret(content))
        except ValueError as exc:
            bad("pin_file", f"= {ref!r}: {exc}")


def _user_plan(raw: Any, du: DesiredUser, bad) -> None:
    from deskpi.core.habits.plans import Plan, PlanError

    try:
        du.plan = Plan.from_dict(raw).to_dict()
    except PlanError as exc:
        for f, v, allowed in exc.problems:
            bad(f"plan.{f}", f"= {v!r}: not allowed (allowed: {allowed})")


def _user_presets(raw: Any, du: DesiredUser, bad) -> None:
    from deskpi.store import HEIGHT_MM, SLOTS

    if not isinstance(raw, dict):
        bad("presets", f"= {raw!r}: must be a table of slot = height mm, e.g. \"3\" = 900.0")
        return
    out: dict[int, float] = {}
    for slot, h in raw.items():
        if slot not in {str(s) for s in SLOTS}:
            bad(f"presets.{slot}", f"unknown slot; slots are {', '.join(map(str, SLOTS))}")
            continue
        with _reported(bad, f"presets.{slot}"):
            out[int(slot)] = round(checks.number(f"presets.{slot}", h, *HEIGHT_MM, "mm"), 1)
    du.presets = out


@contextlib.contextmanager
def _reported(bad, key: str) -> Iterator[None]:
    """Report a value the shared checks refuse as one problem of the file, at its key."""
    try:
        yield
    except checks.InvalidValue as exc:
        bad(key, f"= {exc.value!r}: must be {exc.allowed}")


# -------------------------------------------------------------------------------------- converging

@dataclass
class Changes:
    changes: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, action: str, target: str, old: Any = None, new: Any = None) -> None:
        self.changes.append({"kind": kind, "action": action, "target": target, "from": old, "to": new})


def apply(desired: Desired, config_path: Path, data_dir: Path, *, dry_run: bool = False, prune: bool = False,
          lock_timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Converge the config file and the database to `desired`; return the changes (made, or due if dry_run)."""
    import contextlib

    from deskpi.store import Store, db_path, match_owner

    if prune and desired.users is None:
        raise ApplyError([{"key": "users", "line": None,
                           "message": "--prune removes the users this file does not list, but it has no users "
                                      "list; add `users = []` to remove every user, or leave out --prune"}],
                         str(desired.path))
    out = Changes()
    # The config lock serialises writers of the config file; a dry run only reads it (writes are atomic
    # renames), and the database needs no file lock: its transaction reads, compares and writes at once.
    guard = config_lock(config_path, lock_timeout_s) if desired.settings and not dry_run else contextlib.nullcontext()
    with guard:
        old_text = read_text(config_path)
        updates = _setting_changes(desired, old_text, out)
        new_text = edited_text(old_text, updates) if updates else None
        if new_text is not None:
            from deskpi.fleet.config_edit import validate_text

            problems, _ = validate_text(new_text)          # the file may have changed since load()
            if problems:
                raise ApplyError([{"key": None, "line": None, "message": p.message} for p in problems],
                                 str(config_path))
        if dry_run and not db_path(data_dir).is_file():
            _user_changes(desired, None, out, do=False, prune=prune)
            return out.changes
        created = not db_path(data_dir).is_file()
        with Store.open(db_path(data_dir), timeout_s=lock_timeout_s) as store, store.transaction():
            _user_changes(desired, store, out, do=not dry_run, prune=prune)
            if new_text is not None and not dry_run:
                atomic_write(config_path, new_text)      # inside the transaction: a failure rolls back both
        if created or not dry_run:
            match_owner(data_dir)
    return out.changes


def _setting_changes(desired: Desired, old_text: str | None, out: Changes) -> dict[tuple[str, str], Any]:
    current: Settings | None
    raw: dict[str, Any] = {}
    try:
        raw = tomllib.loads(old_text) if old_text else {}
        current = from_mapping(raw)
    except (tomllib.TOMLDecodeError, ConfigError):
        current = None                      # broken by hand: every listed key that differs is rewritten
    updates = {}
    for (section, key), value in desired.settings.items():
        if current is not None:
            old = getattr(getattr(current, section), key)
        else:
            old = raw.get(section, {}).get(key, ...) if isinstance(raw.get(section), dict) else ...
        if plain(old) != plain(value):
            updates[(section, key)] = value
            out.add("setting", "set", f"{section}.{key}", None if old is ... else plain(old), plain(value))
    return updates


def _user_changes(desired: Desired, store: Any, out: Changes, *, do: bool, prune: bool) -> None:
    from deskpi.people.passwords import hash_secret, verify_secret
    from deskpi.store import name_key

    existing = {name_key(u.name): u for u in store.list_users()} if store is not None else {}
    for du in desired.users or []:
        cur = existing.get(name_key(du.name))
        if cur is None:
            pin_hash = None
            if du.pin is not None and du.pin[0] != "none":
                pin_hash = du.pin[1] if du.pin[0] == "hash" else hash_secret(du.pin[1])
            out.add("user", "add", du.name, None, {k: v for k, v in du.fields.items()}
                    | ({"pin": "set"} if pin_hash else {}))
            if do:
                store.add_user(du.name, pin_hash=pin_hash, **du.fields)
        else:
            if cur.name != du.name:
                out.add("user", "rename", cur.name, cur.name, du.name)
                if do:
                    store.rename_user(cur.name, du.name)
            changed = {k: v for k, v in du.fields.items() if getattr(cur, k) != v}
            for k, v in changed.items():
                out.add("user", "set", f"{du.name}.{k}", getattr(cur, k), v)
            if changed and do:
                store.update_user(du.name, **changed)
            _pin_change(du, cur.pin_hash, store, out, do, hash_secret, verify_secret)
        _plan_change(du, store, out, do)
        _preset_changes(du, store, out, do)
    if prune and desired.users is not None:
        keep = {name_key(u.name) for u in desired.users}
        for key, u in existing.items():
            if key not in keep:
                out.add("user", "remove", u.name)
                if do:
                    store.remove_user(u.name)
    _owner_changes(desired, store, out, do)


def _pin_change(du, current_hash, store, out, do, hash_secret, verify_secret) -> None:
    if du.pin is None:
        return
    kind, value = du.pin
    if kind == "none":
        if current_hash is not None:
            out.add("pin", "clear", du.name, "set", None)
            if do:
                store.update_user(du.name, pin_hash=None)
        return
    same = current_hash == value if kind == "hash" else (current_hash is not None and
                                                        verify_secret(value, current_hash))
    if not same:
        out.add("pin", "set", du.name, None if current_hash is None else "set", "set")   # never a hash in output
        if do:
            store.update_user(du.name, pin_hash=value if kind == "hash" else hash_secret(value))


def _plan_change(du: DesiredUser, store: Any, out: Changes, do: bool) -> None:
    if du.plan is None:
        return
    exists = store is not None and store.get_user(du.name) is not None
    current = store.get_plan(du.name) if exists else None
    if current is None or current.doc != du.plan:
        out.add("plan", "set", du.name, None if current is None else current.kind, du.plan["kind"])
        if do:
            store.set_plan(du.name, du.plan, kind=du.plan["kind"])


def _preset_defaults(seated: float | None, standing: float | None) -> dict[int, float | None]:
    """What slots 1-4 show until saved: slot 1 follows the seated height, slot 2 the standing one."""
    return {1: seated, 2: standing, 3: None, 4: None}


def _preset_changes(du: DesiredUser, store: Any, out: Changes, do: bool) -> None:
    """Make the user's saved presets exactly the file's (a slot equal to its default counts as unsaved)."""
    from deskpi.store import SLOTS

    if du.presets is None:
        return
    user = store.get_user(du.name) if store is not None else None
    custom: dict[int, float] = {}
    seated, standing = du.fields.get("seated_mm"), du.fields.get("standing_mm")
    if user is not None:
        shown = _preset_defaults(user.seated_mm, user.standing_mm)
        custom = {s: h for s, h in store.get_presets(du.name).items() if h is not None and h != shown[s]}
        seated = du.fields.get("seated_mm", user.seated_mm)
        standing = du.fields.get("standing_mm", user.standing_mm)
    will_show = _preset_defaults(seated, standing)
    want = {s: h for s, h in du.presets.items() if h != will_show[s]}
    for slot in SLOTS:
        old, new = custom.get(slot), want.get(slot)
        if old == new:
            continue
        if new is None:
            out.add("preset", "clear", f"{du.name}.{slot}", old, will_show[slot])
            if do:
                store.clear_preset(du.name, slot)
        else:
            out.add("preset", "set", f"{du.name}.{slot}", old if old is not None else will_show[slot], new)
            if do:
                store.set_preset(du.name, slot, new)


def _owner_changes(desired: Desired, store: Any, out: Changes, do: bool) -> None:
    owner = store.get_owner() if store is not None else None
    want = desired.owner
    if want is not ...:
        if (owner.name if owner else None) != want and not (owner and want and _same(owner.name, want)):
            out.add("owner", "set", "owner", owner.name if owner else None, want)
            if do:
                store.set_owner(want)
            owner_name = want
        else:
            owner_name = owner.name if owner else None
    else:
        owner_name = owner.name if owner else None
    active = store.get_active_user() if store is not None else None
    if active is None and owner_name:
        # Like `deskpi user add` for the first user: the owner is at the desk until someone else is.
        out.add("active_user", "set", "active_user", None, owner_name)
        if do:
            store.set_active_user(owner_name)


# ------------------------------------------------------------------------------------------ export

def export(config_path: Path, data_dir: Path) -> str:
    """The desk's current state in the desired-state format (what `apply` takes)."""
    import tomlkit

    from deskpi.fleet.config_edit import effective
    from deskpi.store import Store, db_path

    settings = effective(config_path)
    doc = tomlkit.document()
    doc.add(tomlkit.comment("deskpi desired state: `deskpi apply FILE` makes a desk match it"))
    users: list[dict[str, Any]] = []
    owner = None
    if db_path(data_dir).is_file():
        with Store.open(db_path(data_dir)) as store:
            o = store.get_owner()
            owner = o.name if o else None
            for u in store.list_users():
                users.append(_export_user(store, u))
    if owner is not None:
        doc.add("owner", owner)
    st = tomlkit.table(is_super_table=True)
    for section in SCHEMA:
        t = tomlkit.table()
        for key in SCHEMA[section]:
            t.add(key, to_toml_value(getattr(getattr(settings, section), key)))
        st.add(section, t)
    doc.add("settings", st)
    aot = tomlkit.aot()
    for u in users:
        aot.append(u)
    doc.add("users", aot)
    return tomlkit.dumps(doc)


def _export_user(store: Any, u: Any) -> Any:
    import tomlkit

    t = tomlkit.table()
    t.add("name", u.name)
    for key in ("stature_cm", "shoe_mm", "seated_mm", "standing_mm"):
        if getattr(u, key) is not None:
            t.add(key, getattr(u, key))
    t.add("units", u.units)
    t.add("admin", u.role == "admin")
    if u.pin_hash is not None:
        t.add("pin_hash", u.pin_hash)
    plan = store.get_plan(u.name)
    if plan is not None:
        t.add("plan", _toml_clean(plan.doc))
    defaults = _preset_defaults(u.seated_mm, u.standing_mm)
    presets = tomlkit.table()
    for slot, h in store.get_presets(u.name).items():
        if h is not None and h != defaults[slot]:
            presets.add(str(slot), h)
    t.add("presets", presets)
    return t


def _toml_clean(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored plan without the JSON nulls TOML cannot hold."""
    return {k: v for k, v in doc.items() if v is not None}


def changes_text(changes: Iterable[dict[str, Any]]) -> list[str]:
    out = []
    for c in changes:
        if c["target"] == c["kind"]:                          # owner, active_user
            out.append(f"{c['action']} {c['kind']}: {_show(c['from'])} -> {_show(c['to'])}")
        elif c["action"] in ("add", "remove"):
            out.append(f"{c['action']} {c['kind']} {c['target']}")
        else:
            out.append(f"{c['action']} {c['kind']} {c['target']}: {_show(c['from'])} -> {_show(c['to'])}")
    return out


def _show(v: Any) -> str:
    import json

    return "-" if v is None else json.dumps(v) if not isinstance(v, str) else v
