"""Reading and changing the config file from a shell: show, get, set, validate.

Facilities staff change desks over SSH, often many at once, so every change
here is validated against the same rules the daemon applies at start
(`deskpi.config.from_mapping`: the schema and the pin-map checks) before a
byte is written, and the file on disk is never half-written:

- the edit keeps the file's comments and layout (tomlkit round-trips them);
- the new text is written with `deskpi.util.files.atomic_write` (temporary
  file, fsync, rename; the file keeps its mode and owner);
- `config_lock`, an exclusive `flock` on `<file>.lock`, is held from reading the
  old text to the rename, so two admins (or two `deskpi apply` runs) never
  interleave; the second waits up to `LOCK_TIMEOUT_S` and then fails, saying
  who to wait for.

The daemon reads its config only at start: callers say "restart deskpi".
"""
from __future__ import annotations

import contextlib
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deskpi.config import SCHEMA, ConfigError, Opt, Settings, from_mapping
from deskpi.util.files import InputTooLarge, atomic_write, file_lock, lock_path, read_text_capped

LOCK_TIMEOUT_S = 10.0
RESTART_HINT = "the daemon reads its config only at start: restart deskpi to apply (sudo systemctl restart deskpi)"


class EditError(ValueError):
    """A change was refused; nothing was written. `problems` lists every reason."""

    def __init__(self, problems: list[str], source: str, note: str = "") -> None:
        self.problems = problems
        self.source = source
        note = f"; {note}" if note else ""
        super().__init__(f"{source}: " + problems[0] + note if len(problems) == 1 else
                         f"{source}: {len(problems)} problems{note}:\n  - " + "\n  - ".join(problems))


class LockTimeout(EditError):
    """Somebody else held the lock for longer than the timeout."""


# ------------------------------------------------------------------------------------ keys, values

def split_key(dotted: str) -> tuple[str, str]:
    """'desk.min_mm' -> ('desk', 'min_mm'); EditError naming what exists otherwise."""
    section, sep, key = dotted.partition(".")
    if not sep or section not in SCHEMA:
        raise EditError([f"key {dotted!r}: must be SECTION.KEY with SECTION one of {', '.join(SCHEMA)} "
                         f"(e.g. desk.min_mm)"], "config")
    if key not in SCHEMA[section]:
        raise EditError([f"key {dotted!r}: [{section}] has no key {key!r}; its keys are "
                         f"{', '.join(SCHEMA[section])}"], "config")
    return section, key


def plain(value: Any) -> Any:
    """A settings value as JSON/TOML-friendly data (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value


def to_toml_value(value: Any) -> Any:
    """A settings value as it is written in TOML: `false` for an unconnected optional pin."""
    return False if value is None else plain(value)


def format_value(value: Any) -> str:
    """A value as TOML would spell it: 640.0, "relay", false, [13, 19]."""
    import tomlkit

    return tomlkit.item(to_toml_value(value)).as_string()


def parse_value(section: str, key: str, text: str) -> Any:
    """Turn the VALUE of `config set` into the type the schema wants, or raise EditError.

    VALUE is read as a TOML value (`640`, `true`, `"relay"`, `[13, 19]`), so what
    works in the file works here; a bare word is taken as a string for string keys
    (`config set motor.driver hbridge`), and `none` clears an optional pin.
    """
    opt: Opt = SCHEMA[section][key]
    where = f"{section}.{key}"
    raw = text.strip()
    if opt.optional and raw.lower() in ("none", "false", "off", "-"):
        return False
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if opt.kind is str:
            return raw
        if opt.kind is list and opt.items is str:      # `a.example,b.example` as well as `["a.example"]`
            return [p.strip() for p in raw.split(",") if p.strip()]
        if opt.kind is list:
            try:                                   # `13,19,26` as well as `[13, 19, 26]`
                return [int(p) for p in raw.replace(" ", "").split(",") if p] if raw else []
            except ValueError:
                pass
        raise EditError([f"{where} = {text!r}: {_expected(opt, key)}"], "config") from None
    if opt.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if opt.kind is str and not isinstance(value, str):
        return raw                                 # `config set web.host 10` means the text "10"
    if opt.kind is list and opt.items is str and isinstance(value, str):
        return [value]                             # one name, quoted
    return value


def _expected(opt: Opt, key: str) -> str:
    if opt.kind is float:
        what = "a number"
    elif opt.kind is int:
        what = "a GPIO number (BCM)" if key.endswith("_pin") else "a whole number"
    elif opt.kind is bool:
        what = "true or false"
    elif opt.kind is list and opt.items is str:
        what = 'a list of text, e.g. ["10.0.0.5"] or 10.0.0.5,10.0.0.6 ([] for none)'
    elif opt.kind is list:
        what = "a list of up to 4 GPIO numbers, e.g. [13, 19] or 13,19 ([] for none)"
    else:
        what = "text"
    rng = f" in {opt.lo:g}..{opt.hi:g}" if opt.lo is not None else ""
    choices = f", one of {', '.join(map(repr, opt.choices))}" if opt.choices else ""
    none = " (or none / false: not connected)" if opt.optional else ""
    return f"must be {what}{rng}{choices}{none}"


# ------------------------------------------------------------------------------------ reading

def read_text(path: Path) -> str | None:
    """The file's text, None when it does not exist; EditError when it cannot be read (or is too big)."""
    try:
        return read_text_capped(path, what="a config file")
    except FileNotFoundError:
        return None
    except InputTooLarge as exc:
        raise EditError([exc.reason], str(path)) from None
    except UnicodeDecodeError as exc:
        raise EditError([f"not UTF-8 text (byte {exc.start}): save it as UTF-8"], str(path)) from None
    except OSError as exc:
        raise EditError([f"cannot read it: {exc.strerror}"], str(path)) from None


def effective(path: Path, *, missing_ok: bool = True) -> Settings:
    """The settings the daemon would start with: the file's values over the defaults."""
    text = read_text(path)
    if text is None:
        if not missing_ok:
            raise EditError(["no such file; copy deskpi.example.toml there or pass --config PATH"], str(path))
        return from_mapping({}, f"{path} (absent: built-in defaults)")
    try:
        return from_mapping(tomllib.loads(text), str(path))
    except tomllib.TOMLDecodeError as exc:
        raise EditError([f"not valid TOML: {exc}"], str(path)) from None


# ---------------------------------------------------------------------------------- validation

@dataclass(frozen=True)
class Problem:
    message: str
    line: int | None = None
    section: str | None = None
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "section": self.section, "key": self.key, "message": self.message}


_WHERE = re.compile(r"\[(\w+)\] (\w+)")
_TOML_LINE = re.compile(r"at line (\d+)")


def locate(text: str, table: str, key: str | None = None, occurrence: int = 1) -> int | None:
    """1-based line of `key` in the `occurrence`-th [table] (or [[table]]), or of the header itself.

    A textual scan, good for the files people write (one key per line); it only
    points a person at a line and never decides anything.
    """
    seen = 0
    inside = False
    header_line = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("["):
            name = s.strip("[]").split("]")[0].strip().strip("[").strip()
            if inside and key is not None:
                return header_line
            if name == table:
                seen += 1
                if seen == occurrence:
                    inside, header_line = True, n
                    if key is None:
                        return n
            continue
        if inside and key is not None and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
            return n
    return header_line if inside else None


def validate_text(text: str) -> tuple[list[Problem], list[str]]:
    """Every problem (with its line where it can be found) and every warning of a config text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_LINE.search(str(exc))
        return [Problem(f"not valid TOML: {exc}", int(m.group(1)) if m else None)], []
    try:
        settings = from_mapping(data)
    except ConfigError as exc:
        out = []
        for msg in exc.problems:
            m = _WHERE.search(msg)
            if m and m.group(1) in SCHEMA:
                out.append(Problem(msg, locate(text, m.group(1), m.group(2)), m.group(1), m.group(2)))
            else:
                sec = re.match(r"unknown section \[(\w+)\]", msg)
                out.append(Problem(msg, locate(text, sec.group(1)) if sec else None))
        return out, []
    return [], list(settings.warnings)


# ------------------------------------------------------------------------------ locking, writing

def require_folder(path: Path) -> None:
    """EditError unless the config file's folder exists: a mistyped --config must not leave new folders
    and a lock file behind (the installer makes /etc/deskpi; a change never does)."""
    if not path.parent.is_dir():
        raise EditError([f"its folder {path.parent} does not exist; check --config, or create the folder first "
                         f"(the installer makes /etc/deskpi)"], str(path), "nothing was written")


@contextlib.contextmanager
def config_lock(path: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the exclusive lock on `<path>.lock` that every writer of the config file takes; EditError if it
    cannot be made, LockTimeout if someone else holds it for more than timeout_s."""
    lock = lock_path(path)
    require_folder(path)

    def busy() -> LockTimeout:
        return LockTimeout([f"another admin (or `deskpi apply`) is changing it and held {lock} for more than "
                            f"{timeout_s:g} s; nothing was changed, try again"], str(path))

    with contextlib.ExitStack() as held:
        try:
            held.enter_context(file_lock(lock, timeout_s=timeout_s, busy=busy))
        except OSError as exc:
            raise EditError([f"cannot create the lock file {lock}: {exc.strerror} (run with sudo?)"],
                            str(path)) from None
        yield                                             # outside the try: the caller's errors are its own


def edited_text(text: str | None, updates: dict[tuple[str, str], Any]) -> str:
    """The config text with `updates` ((section, key) -> TOML value) set, comments and layout kept."""
    import tomlkit

    doc = tomlkit.parse(text) if text is not None else tomlkit.document()
    for (section, key), value in updates.items():
        if section not in doc:
            doc.add(tomlkit.nl())
            doc.add(section, tomlkit.table())
        table = doc[section]
        value = to_toml_value(value)
        if key in table:
            table[key] = value                 # tomlkit keeps the line's trailing comment
        else:
            table.add(key, value)
    return tomlkit.dumps(doc)


@dataclass(frozen=True)
class SetResult:
    path: Path
    key: str
    old: Any
    new: Any
    changed: bool
    warnings: tuple[str, ...]


def set_value(path: Path, dotted: str, text_value: str, *, timeout_s: float = LOCK_TIMEOUT_S) -> SetResult:
    """`deskpi config set`: validate the whole resulting file, then write it atomically under the lock."""
    return set_values(path, [(dotted, text_value)], timeout_s=timeout_s)[0]


def set_values(path: Path, pairs: list[tuple[str, str]], *, timeout_s: float = LOCK_TIMEOUT_S) -> list[SetResult]:
    """Several keys in one validated, atomic write: for keys that only make sense together
    (``web.tls_cert`` with ``web.tls_key``; the installer sets both)."""
    parsed: list[tuple[str, str, str]] = []
    values: dict[tuple[str, str], Any] = {}
    for dotted, text in pairs:
        section, key = split_key(dotted)
        parsed.append((dotted, section, key))
        values[(section, key)] = parse_value(section, key, text)
    # Checked once before the lock, so a refused change leaves nothing behind (not even the lock file), and
    # again under it: another admin may have changed the file in between.
    _planned(path, values, parsed)
    with config_lock(path, timeout_s):
        new_text, results = _planned(path, values, parsed)
        if any(r.changed for r in results):
            atomic_write(path, new_text)
    return results


def _planned(path: Path, values: dict[tuple[str, str], Any],
             parsed: list[tuple[str, str, str]]) -> tuple[str, list[SetResult]]:
    """The new text with `values` set and what each key becomes; EditError if the result is not valid."""
    old_text = read_text(path)
    old = effective(path) if old_text is not None else from_mapping({}, "defaults")
    new_text = edited_text(old_text, values)
    problems, warnings = validate_text(new_text)
    if problems:
        raise EditError([p.message for p in problems], str(path), "nothing was written")
    new = from_mapping(tomllib.loads(new_text), str(path))
    old_table = tomllib.loads(old_text) if old_text is not None else {}
    results = []
    for dotted, section, key in parsed:
        before, after = getattr(getattr(old, section), key), getattr(getattr(new, section), key)
        # Setting a key to the value it already has changes nothing; pinning a default explicitly does.
        explicit = old_text is not None and key in old_table.get(section, {})
        results.append(SetResult(path, dotted, plain(before), plain(after), before != after or not explicit,
                                 tuple(warnings)))
    return new_text, results
