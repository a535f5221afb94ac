"""The learned stop model on disk: read when the daemon starts, written every few moves and at shutdown."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from deskpi.core.motion.stopmodel import StopModel
from deskpi.util.files import atomic_write
from deskpi.util.storage import StorageFull, StorageMonitor

log = logging.getLogger(__name__)

MODEL_FILE = "stop_model.json"


def load(data_dir: Path) -> StopModel | None:
    """The model saved in data_dir, or None (none yet, or unreadable: the controller starts from its defaults)."""
    path = data_dir / MODEL_FILE
    try:
        return StopModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring learned stop model %s: %s", path, exc)
        return None


def save(data_dir: Path, model: dict, storage: StorageMonitor | None = None) -> None:
    """Write `model` (StopModel.to_dict()); a failure is logged, never raised: the desk works without it.
    A full disk goes to `storage` (the store's monitor: the flag, a log line a minute), not a traceback."""
    try:
        atomic_write(data_dir / MODEL_FILE, json.dumps(model))
    except StorageFull as exc:
        if storage is not None:
            storage.failed(exc)
        else:
            log.error("could not save the learned stop model: %s", exc)
    except OSError:
        log.exception("could not save the learned stop model")
