"""Which threads come first when the Pi's one core is short: the ones between a button or a reading and
the motor pins.

The service unit starts the daemon at Nice=-5 and lets it go to -10 (LimitNICE=-10); here the motion
threads take that extra priority, each on its own (Linux keeps a nice value per thread), and so do the
threads a Stop through the web passes (the web server's selector and gate, the Stop lane: they favour
themselves), while the web server's workers, the store's writer and the reminders stay at the unit's.
Without the limit (a development machine, another init) nothing changes and one line says so.
`deskpi bench stress` measures the effect.

CPython's switch interval stays at its 5 ms: at 1 ms the same stress run spent half as much CPU again in
the daemon (36 streaming workers trading the GIL) and a Stop through the web took longer at the median;
measured again with one thread writing the streams, it gained nothing.
"""
from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

#: The threads on the motion path: the control loop, the button worker, the sensor's reader, and the
#: simulated sensor's echoes (on a Pi the kernel timestamps echoes; in `deskpi sim` a thread does).
MOTION_THREADS = ("control-loop", "buttons", "hc-sr04", "sim-echo")
BOOST = 5                 # nice steps above the process's own: -5 -> -10 under the unit


def favour(thread: threading.Thread, boost: int = BOOST) -> int | None:
    """Give one running thread `boost` more priority than the process has; its nice, or None when the
    limits refuse it (it keeps the process's)."""
    if thread.native_id is None:
        return None
    try:
        os.setpriority(os.PRIO_PROCESS, thread.native_id, os.getpriority(os.PRIO_PROCESS, os.getpid()) - boost)
        return os.getpriority(os.PRIO_PROCESS, thread.native_id)
    except OSError:
        return None


def favour_motion_threads(names: tuple[str, ...] = MOTION_THREADS, boost: int = BOOST) -> dict[str, int]:
    """`favour` each running thread named in `names`; returns the nice each one got (those the limits
    refused keep the process's and are left out)."""
    base = os.getpriority(os.PRIO_PROCESS, os.getpid())
    got: dict[str, int] = {}
    refused: list[str] = []
    for t in threading.enumerate():
        if t.name not in names or t.native_id is None:
            continue
        nice = favour(t, boost)
        if nice is None:
            refused.append(t.name)
        else:
            got[t.name] = nice
    if refused:
        log.info("motion threads keep the process's priority (nice %d): raising it needs LimitNICE= in the "
                 "service unit (systemd/deskpi.service) or CAP_SYS_NICE", base)
    return got
