"""Exit codes of the admin commands (`deskpi status`, `move`, `doctor`, ...), one meaning each.

Scripts that look after many desks branch on these, so they never change
meaning; new ones are added at the end. The control socket's error replies
carry the same numbers in their "code" field, so the CLI can pass them on.
"""
from __future__ import annotations

OK = 0
FAILURE = 1               # it did not work: the message says why (also: a doctor check failed)
USAGE = 2                 # a bad option or value (argparse uses 2 as well)
DAEMON_NOT_RUNNING = 3    # no daemon answers on <data_dir>/control.sock
FAULT = 4                 # the desk is in a fault: nothing moves until `deskpi clear-fault`
REFUSED = 5               # refused or busy: child lock, someone else moving the desk, motor resting
PERMISSION = 6            # not allowed to use the control socket or the data (root or the deskpi group)
TIMEOUT = 7               # the daemon or the desk did not finish in time

MEANING = {
    OK: "ok",
    FAILURE: "failure",
    USAGE: "usage: a bad option or value",
    DAEMON_NOT_RUNNING: "the daemon is not running",
    FAULT: "the desk is in a fault",
    REFUSED: "refused or busy",
    PERMISSION: "permission denied",
    TIMEOUT: "timed out",
}
