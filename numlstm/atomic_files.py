"""Files written atomically: to a temporary file beside the target, renamed over it once complete.

A crash never leaves a half-written file behind; the next write of the
target removes a temporary file that a killed process left.
"""

import os
import secrets
import socket


def write_atomically(path, write):
    """Call ``write(binary_file)`` on a temporary file beside ``path``, then rename it over ``path``.

    The temporary file is named after the target, this machine and this
    process (``.NAME.HOST-PID-RANDOM.tmp``), so that a write can remove the
    temporary files that earlier writes of the same target left when their
    process was killed (SIGKILL runs no clean-up): those of this machine
    whose process no longer runs.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: no such directory {folder} (create it first)")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path}: it is a directory; give a file name")
    prefix = f".{os.path.basename(path)}.{socket.gethostname()}-"
    _remove_orphans(folder, prefix)
    handle, temporary = _create_temporary(folder, f"{prefix}{os.getpid()}-")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _create_temporary(folder, prefix):
    """(descriptor, path) of a new file ``{prefix}RANDOM.tmp`` in ``folder``, with the permissions a plain
    ``open`` gives (0666 less the umask; tempfile.mkstemp's 0600 would make saved models private)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temporary = os.path.join(folder, f"{prefix}{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name {prefix}*.tmp in {folder}")


def _remove_orphans(folder, prefix):
    """Remove ``folder``'s files ``{prefix}PID-RANDOM.tmp`` whose process PID no longer runs."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix):].partition("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass  # gone already, or not ours to remove


def _running(pid):
    if os.name == "nt":  # there os.kill(pid, 0) would send CTRL_C_EVENT: leave such files alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
