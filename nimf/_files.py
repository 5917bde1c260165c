"""Files written whole or not at all."""

import os
import tempfile

__all__ = ["write_atomically"]


def write_atomically(path, write, mode="wb"):
    """Write ``path`` through ``write(handle)`` on a temporary file, then rename.

    The temporary file is in the same folder, flushed to disk before the
    rename (``os.replace``, atomic on POSIX): a process killed at any moment
    leaves the previous file or the new one, never a partial file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
