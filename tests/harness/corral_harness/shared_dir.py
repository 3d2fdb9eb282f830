"""A directory that suites running side by side share, made by the first
and removed by the last one out.

Each user holds a shared flock on a lock file inside it for its whole life;
the one that leaves takes the lock exclusively (only possible when no one
else holds it) and removes the directory. "Empty right now" would not do:
a suite that has just arrived but not yet made anything there would find
the directory gone under it (CI saw mkdtemp fail with ENOENT that way)."""
import errno
import fcntl
import os

LOCK_NAME = ".users"


def join(path):
    """Make `path` (mode 1777) if need be and hold it; returns the lock's fd.
    Retries when the last user removed it between our mkdir and our lock."""
    lock_path = os.path.join(path, LOCK_NAME)
    while True:
        try:
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o1777)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except (FileNotFoundError, FileExistsError):
            continue  # the last user removed it while we made or opened it
        fcntl.flock(fd, fcntl.LOCK_SH)
        if _still_linked(fd, lock_path):
            return fd
        os.close(fd)  # we locked a file the last user had already unlinked


def leave(path, fd):
    """Let go of `path`; the last user out removes it (and nothing else:
    a directory someone left files in stays, rmdir refuses)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as failure:
        if failure.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            os.close(fd)  # someone else still uses it
            return
        raise
    try:
        os.unlink(os.path.join(path, LOCK_NAME))
        os.rmdir(path)
    except OSError:
        pass
    finally:
        os.close(fd)


def _still_linked(fd, lock_path):
    try:
        return os.fstat(fd).st_ino == os.stat(lock_path).st_ino
    except FileNotFoundError:
        return False
