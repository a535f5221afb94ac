"""Built-in stretches and movement breaks for people who sit at a desk all day.

Written for deskpi. They are gentle, need no equipment and fit in a one- or
two-minute break. They are general guidance, not treatment: anyone with a
diagnosed back or neck condition should follow their clinician's advice, and
any movement that brings sharp, shooting or worsening pain, numbness or
tingling should be stopped.

`pick()` chooses one, avoiding the ones used recently; the schedule policy
(deskpi.core.habits.schedule_policy) rotates through the same ids.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Stretch:
    id: str
    title: str
    helps: str                     # who it is for / what it eases
    steps: tuple[str, ...]         # 3-6 short instructions, in order
    duration_s: int
    cautions: tuple[str, ...]
    position: str                  # "standing" | "seated" | "either" | "walking"

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "helps": self.helps, "steps": list(self.steps),
                "duration_s": self.duration_s, "cautions": list(self.cautions), "position": self.position}


POSITIONS = ("standing", "seated", "either", "walking")
GENERAL_CAUTION = "Move slowly and stay within a comfortable range; stop if it causes sharp pain, numbness or tingling."

CATALOGUE: tuple[Stretch, ...] = (
    Stretch(
        id="back_extension",
        title="Standing back extension",
        helps="A lower back that feels stiff or compressed after a long stretch of sitting bent forward.",
        steps=(
            "Stand with your feet hip-width apart and your knees soft.",
            "Put your palms on your lower back, fingers pointing down, thumbs towards your sides.",
            "Breathe out and slowly lean back from the hips, letting your hands support you; look up a little.",
            "Hold for two or three easy breaths, then come back to upright.",
            "Repeat five times, going only as far as feels comfortable.",
        ),
        duration_s=60,
        cautions=("Skip it if bending backwards sends pain down a leg.", GENERAL_CAUTION),
        position="standing",
    ),
    Stretch(
        id="hip_flexor_stretch",
        title="Hip flexor stretch",
        helps="Tight hips from sitting, which can pull on the lower back.",
        steps=(
            "Stand side-on to the desk and rest one hand on it for balance.",
            "Step one foot back about a stride, heel lifted, both feet pointing forward.",
            "Tuck your tailbone under slightly and bend the front knee until you feel a stretch at the front "
            "of the back hip.",
            "Keep your back upright and hold for about 20 seconds while breathing slowly.",
            "Change legs and repeat.",
        ),
        duration_s=60,
        cautions=("Keep the front knee above the ankle, not past the toes.", GENERAL_CAUTION),
        position="standing",
    ),
    Stretch(
        id="chin_tucks",
        title="Chin tucks",
        helps="A neck that drifts forward towards the screen, and tension at the base of the skull.",
        steps=(
            "Sit or stand tall with your shoulders relaxed and eyes level.",
            "Without tipping your head down, glide your chin straight back as if making a double chin.",
            "Hold for three seconds, feeling a gentle stretch at the back of the neck.",
            "Relax forward again to neutral.",
            "Repeat ten times.",
        ),
        duration_s=45,
        cautions=("Keep the movement small and level; this is a glide, not a nod.", GENERAL_CAUTION),
        position="either",
    ),
    Stretch(
        id="shoulder_rolls",
        title="Shoulder rolls",
        helps="Raised, tense shoulders and an upper back that has been still for too long.",
        steps=(
            "Let your arms hang loosely by your sides.",
            "Lift both shoulders up towards your ears.",
            "Draw them back, squeezing the shoulder blades gently together, then let them drop down.",
            "Make ten slow circles this way, then five in the opposite direction.",
        ),
        duration_s=45,
        cautions=(GENERAL_CAUTION,),
        position="either",
    ),
    Stretch(
        id="seated_twist",
        title="Seated twist",
        helps="A stiff mid and upper back after sitting in one position.",
        steps=(
            "Sit towards the front of the chair with both feet flat and your spine tall.",
            "Breathe in and lengthen; as you breathe out, turn your chest to the right.",
            "Rest your left hand on your right knee and your right hand on the chair seat behind you.",
            "Hold for three slow breaths without forcing the turn with your arms.",
            "Come back to the middle and repeat to the left.",
        ),
        duration_s=60,
        cautions=("Use a chair that does not swivel, or hold it still with your feet.",
                  "Twist from the middle of your back, not by cranking your neck.", GENERAL_CAUTION),
        position="seated",
    ),
    Stretch(
        id="short_walk",
        title="Short walk",
        helps="Everyone: walking moves the whole spine and gets the blood flowing in the legs.",
        steps=(
            "Stand up and leave the desk: to a window, the kitchen, the stairs.",
            "Walk at an easy pace with your arms swinging freely.",
            "Take a few deeper breaths and look at something far away to rest your eyes.",
            "Come back after about two minutes; a refill of water is a good excuse.",
        ),
        duration_s=120,
        cautions=("Mind cables and doors; no need to hurry.",),
        position="walking",
    ),
    Stretch(
        id="chest_opener",
        title="Chest opener",
        helps="Rounded shoulders and a tight chest from reaching for the keyboard.",
        steps=(
            "Stand tall and clasp your hands behind your back, or hold a towel between them.",
            "Gently draw your shoulder blades back and down.",
            "Lift your chest and, if it is comfortable, raise your hands slightly away from your back.",
            "Hold for about 20 seconds while breathing evenly, then release.",
            "Repeat twice.",
        ),
        duration_s=45,
        cautions=("Do not arch your lower back to get further; the movement is in the shoulders.",
                  GENERAL_CAUTION),
        position="standing",
    ),
    Stretch(
        id="calf_raises",
        title="Calf raises",
        helps="Tired or heavy legs after standing at the desk, and circulation in the lower legs.",
        steps=(
            "Stand behind the desk or chair and rest your fingertips on it for balance.",
            "Rise slowly onto the balls of your feet.",
            "Pause for a second at the top, then lower your heels with control.",
            "Repeat fifteen times.",
        ),
        duration_s=45,
        cautions=("Hold on to something stable; a rolling chair is not stable.", GENERAL_CAUTION),
        position="standing",
    ),
    Stretch(
        id="upper_back_stretch",
        title="Upper back stretch",
        helps="Tightness between the shoulder blades.",
        steps=(
            "Reach both arms forward at shoulder height and interlace your fingers, palms facing away.",
            "Round your upper back and push your hands away, letting your head drop slightly between your arms.",
            "Feel the shoulder blades spread apart and hold for about 15 seconds.",
            "Slowly return to upright, relax and repeat twice more.",
        ),
        duration_s=45,
        cautions=(GENERAL_CAUTION,),
        position="either",
    ),
)

_BY_ID = {s.id: s for s in CATALOGUE}


def ids() -> tuple[str, ...]:
    return tuple(s.id for s in CATALOGUE)


def get(stretch_id: str) -> Stretch:
    try:
        return _BY_ID[stretch_id]
    except KeyError:
        raise KeyError(f"stretch_id = {stretch_id!r} is unknown (allowed: {', '.join(_BY_ID)})") from None


def pick(rng_or_index, exclude_recent: Iterable[str] = (), *, position: str | None = None) -> Stretch:
    """Choose a stretch, avoiding the ids in `exclude_recent` while others remain.

    `rng_or_index` is either an int (rotation: the n-th of the candidates,
    wrapping around) or a random.Random-like object with `randrange`.
    `position` keeps only stretches done in that position (or "either").
    """
    if position not in (None, *POSITIONS):
        raise ValueError(f"position = {position!r} is not allowed (allowed: {', '.join(POSITIONS)} or None)")
    pool = [s for s in CATALOGUE
            if position is None or s.position == position or (s.position == "either" and position != "walking")]
    recent = set(exclude_recent)
    fresh = [s for s in pool if s.id not in recent]
    candidates = fresh or pool
    if isinstance(rng_or_index, bool):
        raise TypeError("rng_or_index: must be an int index or a random.Random-like object, not a bool")
    if isinstance(rng_or_index, int):
        return candidates[rng_or_index % len(candidates)]
    if hasattr(rng_or_index, "randrange"):
        return candidates[rng_or_index.randrange(len(candidates))]
    raise TypeError(f"rng_or_index = {rng_or_index!r}: must be an int index or a random.Random-like object")
