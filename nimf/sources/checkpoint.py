"""Checkpoints of a learner's state: one ``.npz`` file, written atomically.

The file holds plain numeric arrays and a JSON header (stored as an array of
bytes), so it loads with ``allow_pickle=False`` and can never execute code.  It
is written to a temporary file in the same folder, flushed to disk and renamed
over the previous checkpoint: a process killed at any moment leaves either the
old checkpoint or the new one, never a partial file.
"""

import json
import os

import numpy as np

from .._files import write_atomically

__all__ = ["save_checkpoint", "load_checkpoint", "checkpoint_path"]

_HEADER = "__nimf_checkpoint__"
FORMAT = "nimf-checkpoint"
VERSION = 1


def checkpoint_path(path):
    """The checkpoint file for a user path (``.npz`` appended when missing)."""
    path = os.path.expanduser(os.fspath(path))
    if not path.endswith(".npz"):
        path += ".npz"
    return path


def save_checkpoint(path, arrays, meta):
    """Write ``arrays`` (name -> ndarray) and ``meta`` (JSON-able dict) atomically."""
    path = checkpoint_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    header = dict(meta, format=FORMAT, version=VERSION)
    payload = {name: np.asarray(value) for name, value in arrays.items()}
    payload[_HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    write_atomically(path, lambda handle: np.savez(handle, **payload))
    return path


def load_checkpoint(path):
    """Read a checkpoint: ``(arrays, meta)``; a clear ``ValueError`` if it is not one."""
    path = checkpoint_path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if _HEADER not in data.files:
                raise ValueError("no nimf header")
            meta = json.loads(bytes(data[_HEADER]).decode("utf-8"))
            arrays = {name: data[name] for name in data.files if name != _HEADER}
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ValueError(f"{path!r} is not a readable nimf checkpoint ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a nimf checkpoint (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"{path!r} is a checkpoint of format version {meta.get('version')}, "
                         f"this nimf reads version {VERSION}")
    return arrays, meta
