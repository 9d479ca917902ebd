"""Writing a file whole, without ever replacing what must not be replaced.

One job: put new content at PATH atomically (a reader sees the old file or the new one, never
half of one), by a temporary file beside the target and a rename, under these rules
(create_text: a new file only, linked into place, never replacing anything):

- PATH must name a regular file or nothing yet: never a directory, a device, a FIFO or a socket
  (a rename would put a regular file in their place);
- through a symlink, the symlink's target is written (the temporary file beside it), never the
  symlink replaced;
- a new file gets 0666 & ~umask, as any program's new file does; an existing one keeps its mode
  (and its owner, where the process may give it), and one the process may not write is refused;
- on any failure the temporary file is removed and PATH is as it was.

What PATH must not be besides (the database, an input, a SQL file) is for the caller to say:
refusal() compares a path with the files it protects.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat

MAX_FILES_COMPARED = 10_000  # of a protected directory (sql/ holds a few dozen)


def write_text(path: str, text: str) -> None:
    """text at path, atomically; OSError (with errno and strerror) when it cannot be written."""
    target = os.path.realpath(path)  # through a symlink (or several), the file it names
    existing = _existing(target)
    if existing is not None and not os.access(target, os.W_OK):
        raise OSError(errno.EACCES, "Permission denied (the file is not writable)", path)
    directory = os.path.dirname(target)
    tmp, fd = _create_beside(target)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if existing is not None:
                os.fchmod(f.fileno(), stat.S_IMODE(existing.st_mode))
                if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                    try:
                        os.fchown(f.fileno(), existing.st_uid, existing.st_gid)
                    except OSError:
                        pass  # only root may give a file away: the new one is then the writer's
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # the rename itself survives a crash once the directory is on disk
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def create_text(path: str, text: str) -> None:
    """text in a new file at path, whole or not at all: FileExistsError when path names anything
    already, a dangling symlink included (never written through). The text goes to a temporary
    file beside it, which is then linked at path: link, unlike rename, never replaces."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp, fd = _create_beside(os.path.join(directory, os.path.basename(path)))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path, follow_symlinks=False)
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def kind_refused(path: str) -> str | None:
    """Why path (followed through symlinks) can never be written by rename, or None: it is a
    regular file, or names nothing yet."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a device, FIFO or socket): a regular file would replace it"
    return None


def refusal(path: str, protected: dict[str, str], protected_dirs: dict[str, str] | None = None) -> str | None:
    """What path is, of the files it must never replace, or None. protected: path -> what it is
    (e.g. "the database"); the same file by any name (a symlink, a hard link, a relative path)
    counts, and so does a file that does not exist yet. protected_dirs: directory -> what is in
    it; any file under one (or the same file as one under it) counts."""
    why = kind_refused(path)
    if why:
        return why
    target = os.path.realpath(path)
    for other, what in protected.items():
        if _same(target, other):
            return f"is {what}: writing there would replace it"
    for directory, what in (protected_dirs or {}).items():
        real_dir = os.path.realpath(directory)
        if os.path.commonpath([real_dir, target]) == real_dir:
            return f"is {what}: writing there would replace it"
        if os.path.exists(target):  # a file of it by another name: a link in it, or a hard link
            files = (os.path.join(root, name) for root, _, names in os.walk(directory) for name in names)
            for _, name in zip(range(MAX_FILES_COMPARED), files):
                if _same(target, name):
                    return f"is {what}: writing there would replace it"
    return None


def _same(real_path: str, other: str) -> bool:
    try:
        return os.path.samefile(real_path, other)
    except OSError:  # one of them does not exist (yet): the same name is the same file
        return real_path == os.path.realpath(other)


def _existing(target: str) -> os.stat_result | None:
    """target's status when it exists; OSError when it is not a regular file."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode):
        raise OSError(errno.EISDIR, "Is a directory", target)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a device, FIFO or socket)", target)
    return st


def _create_beside(target: str) -> tuple[str, int]:
    """A new temporary file in target's directory, created 0666 & ~umask (the kernel applies
    the umask), open for writing; its name starts with a dot and target's name."""
    directory, name = os.path.split(target)
    for _ in range(100):
        tmp = os.path.join(directory, f".{name[:200]}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "no free temporary name", directory)
