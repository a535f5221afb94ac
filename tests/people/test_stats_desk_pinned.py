"""Everyone's statistics (`GET /api/v1/stats/desk`'s body) over a small made-up history, pinned to the byte.

The desk report is built and encoded by quick paths (shared records for the days a person was not at the
desk, the JSON of such a record written once); this pins what they must give: the figures counted before
those paths existed. The history has a DST switch, a person renamed and one removed (their time stays
counted for nobody), two who never came, a plan of one's own, a profile with only a seated height, and
today's partial day.

If a change is meant to alter the figures, write the file again with DESKPI_PIN_STATS=1 and review the diff.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from deskpi.bench.scale_data import simulate_days, write_day
from deskpi.people.accounts import set_plan, stats_report
from deskpi.store import Store
from deskpi.webapp.stats_json import report_json

ZONE = ZoneInfo("Europe/Berlin")
FIRST, LAST = dt.date(2026, 10, 12), dt.date(2026, 10, 30)       # Berlin falls back on Sunday 25 October
PEOPLE = ["ada", "bo", "cy", "dee", "eve"]
NEVER_HERE = ["fay", "gus"]                          # people of the desk who never came to it
NOW = dt.datetime.combine(LAST, dt.time(14, 23, 17), tzinfo=ZONE).timestamp()
PINNED = Path(__file__).with_name("data") / "stats_desk_pinned.json"


def at(d: dt.date, hour: float) -> float:
    return dt.datetime.combine(d, dt.time(), tzinfo=ZONE).timestamp() + hour * 3600


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("stats_pinned") / "deskpi.db"
    with Store.open(path) as s:
        for name in [*PEOPLE, *NEVER_HERE]:
            s.add_user(name, seated_mm=720, standing_mm=1100, now=at(FIRST, -30))
        s.update_user("cy", standing_mm=None, seated_mm=690)
        set_plan(s, "bo", {"kind": "cornell"})
        now_called = {name: name for name in PEOPLE}
        for day in simulate_days(FIRST, LAST, PEOPLE, ZONE, seed=5, since=FIRST, until=NOW):
            day.person = day.person and now_called[day.person]
            write_day(s, day)
            if day.date == dt.date(2026, 10, 20):
                s.rename_user("dee", "dora")
                now_called["dee"] = "dora"
            if day.date == dt.date(2026, 10, 26):
                s.remove_user("eve")             # nobody is at the desk from then, until the next claim
                now_called["eve"] = "ada"
        yield s


def test_the_desk_report_is_what_it_was(store):
    reports = [stats_report(store, days=days, zone=ZONE, now=NOW, summed=summed)
               for days in (19, 3) for summed in (False, True, True)]   # raw rows, summing the days, the stored days
    bodies = [report_json(r) for r in reports]
    for body in bodies:
        assert body == json.dumps(json.loads(body), separators=(",", ":")) + "\n"     # what jsonify would send
    assert bodies[0] == bodies[1] == bodies[2] and bodies[3] == bodies[4] == bodies[5]
    # Indented to read a diff; the order of the keys and every float's digits are kept.
    got = json.dumps({"19": json.loads(bodies[0]), "3": json.loads(bodies[3])}, indent=1) + "\n"
    if os.environ.get("DESKPI_PIN_STATS"):
        PINNED.write_text(got)
    assert got == PINNED.read_text()
    short = reports[3]["users"]                         # the quick paths were taken: records shared, a group's days
    assert all(a is b for a, b in zip(short["fay"]["days"], short["gus"]["days"], strict=True))
    assert any(a is b for a, b in zip(reports[0]["users"]["ada"]["days"], reports[0]["users"]["cy"]["days"],
                                      strict=True))
