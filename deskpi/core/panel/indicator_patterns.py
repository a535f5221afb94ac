"""Named LED and buzzer patterns, and what they show at any moment: pure.

Standard library only, no clock: `level_at(pattern, t0, t)` says what the LED
(brightness 0..1) and the buzzer (on/off, with an optional tone for a passive
buzzer) should be at time `t` for a pattern started at `t0`. The renderer in
deskpi.hw.indicators just samples it.

A pattern is an optional `intro` played once, then a `body` that loops
(continuous states: 'moving', 'fault', 'locked', 'idle', 'warning_countdown')
or plays once (events: 'preset_saved', 'reminder', 'error', 'unlocked').
Each step holds its levels for `duration_s`; a step with `led_end` fades
linearly from `led` to `led_end`.

What they look and sound like (chosen to be told apart by ear and by eye):

================== ======= =====================================================
pattern            kind    LED / buzzer
================== ======= =====================================================
idle               loop    steady dim glow (0.05), silent
moving             loop    breathing 0.2 -> 1 -> 0.2 every 1.2 s, silent
preset_saved       once    two short high beeps (1.8 kHz) with two full flashes
reminder           once    three slow soft pulses, one mid beep (880 Hz) each
warning_countdown  loop    a tick every 1 s: 100 ms beep (1.2 kHz) + full flash
fault              loop    fast blink 4 Hz; three low beeps (440 Hz), then 2 s quiet
locked             loop    one low 'bonk' (330 Hz) on entry; then a double blip every 2 s
unlocked           once    two rising tones (660 Hz, 990 Hz), LED steps up
error              once    one long low buzz (220 Hz, 0.6 s), LED three quick flashes
claim_pending      loop    one short chirp (1.3 kHz) on entry; then an even blink,
                           full on 0.5 s / off 0.5 s, silent
================== ======= =====================================================

`desk_state(...)` picks the continuous state from what the desk is doing:
fault > locked > moving > claim_pending > idle. 'claim_pending' shows while
someone's phone asks to claim the desk (deskpi.webapp.claims): the person at
the desk sees that a colleague asks, and the requester sees the desk they
were told to press a preset on.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    duration_s: float
    led: float = 0.0                 # brightness 0..1 at the start of the step
    buzzer: bool = False
    tone_hz: float | None = None     # for a passive buzzer; None: whatever an active buzzer makes
    led_end: float | None = None     # fade linearly to this by the end of the step

    def __post_init__(self) -> None:
        if not self.duration_s > 0:
            raise ValueError(f"step duration {self.duration_s!r}: must be positive")
        for v in (self.led, self.led_end):
            if v is not None and not 0.0 <= v <= 1.0:
                raise ValueError(f"LED level {v!r}: must be in 0..1")


@dataclass(frozen=True)
class Pattern:
    name: str
    body: tuple[Step, ...]
    loop: bool
    intro: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        if not self.body:
            raise ValueError(f"pattern {self.name!r} has no steps")

    @property
    def intro_s(self) -> float:
        return sum(s.duration_s for s in self.intro)

    @property
    def period_s(self) -> float:
        return sum(s.duration_s for s in self.body)

    @property
    def duration_s(self) -> float | None:
        """How long a one-shot pattern lasts; None for a looping one."""
        return None if self.loop else self.intro_s + self.period_s

    @property
    def once_s(self) -> float:
        """How long one pass (intro + one body) lasts, looping or not."""
        return self.intro_s + self.period_s

    @property
    def static(self) -> bool:
        """True if the pattern never changes: a renderer need not animate it."""
        steps = self.intro + self.body
        first = steps[0]
        return self.loop and all(
            (s.led, s.buzzer, s.tone_hz) == (first.led, first.buzzer, first.tone_hz)
            and (s.led_end is None or s.led_end == s.led) for s in steps)


@dataclass(frozen=True)
class Level:
    led: float
    buzzer: bool
    tone_hz: float | None = None
    done: bool = False               # a one-shot pattern has finished (everything off)


OFF = Level(0.0, False, None, False)


def _beep(d: float, hz: float, led: float = 1.0) -> Step:
    return Step(d, led, True, hz)


def _dark(d: float, led: float = 0.0) -> Step:
    return Step(d, led)


PATTERNS: dict[str, Pattern] = {p.name: p for p in (
    Pattern("idle", (Step(1.0, 0.05),), loop=True),
    Pattern("moving", (Step(0.6, 0.2, led_end=1.0), Step(0.6, 1.0, led_end=0.2)), loop=True),
    Pattern("preset_saved", (_beep(0.08, 1800), _dark(0.08), _beep(0.08, 1800), _dark(0.3)), loop=False),
    Pattern("reminder", (_beep(0.25, 880, 0.6), Step(0.35, 0.6, led_end=0.0),
                         _beep(0.25, 880, 0.6), Step(0.35, 0.6, led_end=0.0),
                         _beep(0.25, 880, 0.6), Step(0.35, 0.6, led_end=0.0)), loop=False),
    Pattern("warning_countdown", (_beep(0.1, 1200), _dark(0.9, 0.3)), loop=True),
    Pattern("fault", (_beep(0.125, 440), _dark(0.125), _beep(0.125, 440), _dark(0.125),
                      _beep(0.125, 440), _dark(0.125),
                      *[s for _ in range(4) for s in (Step(0.125, 1.0), _dark(0.125))]), loop=True),
    Pattern("locked", (Step(0.06, 0.8), _dark(0.12), Step(0.06, 0.8), _dark(1.76)), loop=True,
            intro=(_beep(0.3, 330, 0.8), _dark(0.2))),
    Pattern("unlocked", (_beep(0.12, 660, 0.4), _dark(0.05, 0.4), _beep(0.15, 990, 1.0), _dark(0.2)), loop=False),
    Pattern("error", (Step(0.6, 1.0, True, 220), _dark(0.1), Step(0.1, 1.0), _dark(0.1), Step(0.1, 1.0),
                      _dark(0.1), Step(0.1, 1.0), _dark(0.2)), loop=False),
    Pattern("claim_pending", (Step(0.5, 1.0), _dark(0.5)), loop=True, intro=(_beep(0.12, 1300), _dark(0.2))),
)}

#: Patterns meant for Indicators.set_state (they loop until replaced).
STATES = tuple(n for n, p in PATTERNS.items() if p.loop)
#: Patterns meant for Indicators.show (they play once, over the state).
EVENTS = tuple(n for n, p in PATTERNS.items() if not p.loop)


def desk_state(*, fault: bool, locked: bool, moving: bool, claim_pending: bool = False) -> str:
    """The continuous state the LED shows: a fault first, then the child lock, then motion, then a
    claim request waiting for its preset press, else idle."""
    if fault:
        return "fault"
    if locked:
        return "locked"
    if moving:
        return "moving"
    return "claim_pending" if claim_pending else "idle"


def get(name: str) -> Pattern:
    try:
        return PATTERNS[name]
    except KeyError:
        raise ValueError(f"unknown pattern {name!r}; patterns are {', '.join(PATTERNS)}") from None


def _in_steps(steps: tuple[Step, ...], e: float) -> Level:
    for s in steps:
        if e < s.duration_s:
            led = s.led if s.led_end is None else s.led + (s.led_end - s.led) * (e / s.duration_s)
            return Level(min(max(led, 0.0), 1.0), s.buzzer, s.tone_hz if s.buzzer else None)
        e -= s.duration_s
    last = steps[-1]          # rounding at the very end of the sequence
    return Level(last.led if last.led_end is None else last.led_end, last.buzzer, last.tone_hz if last.buzzer else None)


def level_at(pattern: Pattern | str, t0: float, t: float, *, once: bool = False) -> Level:
    """What `pattern`, started at `t0`, shows at `t`.

    A looping pattern repeats its body forever, unless `once` (play the intro
    and one body, as Indicators.show does); a finished pattern gives
    Level(0, False, None, done=True). Times before `t0` count as `t0`.
    """
    p = get(pattern) if isinstance(pattern, str) else pattern
    e = max(0.0, t - t0)
    if e < p.intro_s:
        return _in_steps(p.intro, e)
    e -= p.intro_s
    if p.loop and not once:
        return _in_steps(p.body, e % p.period_s)
    if e >= p.period_s:
        return Level(0.0, False, None, True)
    return _in_steps(p.body, e)


def timeline(pattern: Pattern | str, span_s: float, step_s: float = 0.01, *, once: bool = False) -> tuple:
    """(led, buzzer) sampled every `step_s` over `span_s`: a fingerprint for comparing patterns."""
    n = int(round(span_s / step_s))
    out = []
    for i in range(n):
        lv = level_at(pattern, 0.0, i * step_s, once=once)
        out.append((round(lv.led, 3), lv.buzzer, lv.tone_hz))
    return tuple(out)
