"""The photo store on the local filesystem: a folder, each object's key its path
(``ab/cd/<sha256>.<suffix>``, two levels of fan-out so no directory grows huge).

* **Atomic**: bytes go to a temporary file in the destination directory, are fsynced, then
  published under the final name with ``os.link`` (which fails if the name exists, so exactly one
  concurrent writer reports ``created=True``), falling back to ``os.replace`` on filesystems
  without hard links; the directory is fsynced too. A reader never sees a partial object.
* **Private**: files are created ``0o600`` and directories ``0o700`` (patient photos).
* **Safe keys**: :meth:`LocalPhotoStore.path` accepts only keys of the exact form above, so a key can
  never address anything outside the root (no ``..``, no absolute paths, no symlink escapes).

Leftover temporary files of crashed writes start with ``.tmp-``; ``sweep_temp_files`` removes old ones.
:class:`ObjectFolder` is the mechanics, shared with the encrypted folder (:mod:`.sealed`).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from serving.photos.store import InvalidKey, check_content, is_key, key_for, parse_key

__all__ = ["DIR_MODE", "FILE_MODE", "LocalPhotoStore", "ObjectFolder"]

_TMP_PREFIX = ".tmp-"
_FAN_OUT = re.compile(r"[0-9a-f]{2}")
FILE_MODE = 0o600
DIR_MODE = 0o700


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms that cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class ObjectFolder:
    """Private, atomic, fanned-out files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not self.root.exists():
            self.root.mkdir(parents=True, mode=DIR_MODE)
            os.chmod(self.root, DIR_MODE)
        self._real_root = self.root.resolve(strict=True)
        self.location = str(self.root)

    def _write(self, path: Path, content: bytes) -> bool:
        """Publish ``content`` at ``path`` atomically; False when an object of that size was there."""
        if path.is_file() and path.stat().st_size == len(content):
            return False
        self._make_dirs(path.parent)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX, suffix=".part")
        tmp = Path(tmp_name)
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            created = self._publish(tmp, path, len(content))
        finally:
            tmp.unlink(missing_ok=True)
        if created:
            _fsync_dir(path.parent)
        return created

    def _publish(self, tmp: Path, path: Path, size: int) -> bool:
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            if path.stat().st_size == size:
                return False
            # A damaged object of the wrong size (should not happen): replace it atomically.
            os.replace(tmp, path)
            return True
        except OSError:  # no hard links here (some network/FUSE filesystems)
            if path.exists():
                return False
            os.replace(tmp, path)
            return True

    def _make_dirs(self, directory: Path) -> None:
        missing = []
        d = directory
        while not d.exists():
            missing.append(d)
            d = d.parent
        for d in reversed(missing):
            with contextlib.suppress(FileExistsError):
                d.mkdir(mode=DIR_MODE)
                os.chmod(d, DIR_MODE)  # mkdir's mode is subject to the umask

    def _inside(self, path: Path) -> Path:
        # Defence in depth: a symlinked fan-out directory must not lead outside the root.
        parent = path.parent
        if parent.exists() and not parent.resolve().is_relative_to(self._real_root):
            raise InvalidKey(f"{path.name!r} resolves outside the store")
        return path

    def _files(self, root: Path) -> Iterator[Path]:
        """The files two fan-out levels (``ab/cd/``) below ``root``, sorted by path."""
        if not root.is_dir():
            return
        for level1 in sorted(root.iterdir()):
            if not (level1.is_dir() and _FAN_OUT.fullmatch(level1.name)):
                continue
            for level2 in sorted(level1.iterdir()):
                if not (level2.is_dir() and _FAN_OUT.fullmatch(level2.name)):
                    continue
                yield from (entry for entry in sorted(level2.iterdir()) if entry.is_file())

    def writable(self) -> bool:
        """Whether objects can be written now (for readiness checks)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=_TMP_PREFIX):
                return True
        except OSError:
            return False

    def sweep_temp_files(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary files left by crashed writes; returns how many were removed."""
        cutoff = time.time() - older_than_s
        removed = 0
        # at the root: a readiness probe's file (a kill mid-probe); deeper: a photo being written
        patterns = (f"{_TMP_PREFIX}*", f"*/*/{_TMP_PREFIX}*", f"*/*/*/{_TMP_PREFIX}*")
        for tmp in [path for pattern in patterns for path in self.root.glob(pattern)]:
            with contextlib.suppress(FileNotFoundError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    removed += 1
        return removed


class LocalPhotoStore(ObjectFolder):
    """The default backend: each object a plain file at its key's path under ``root``."""

    key_for = staticmethod(key_for)

    def path(self, key: str) -> Path:
        """The file of ``key``; refuses any key not of the exact form ``ab/cd/<sha256>.<suffix>``."""
        sha256, suffix = parse_key(key)
        return self._inside(self.root / sha256[:2] / sha256[2:4] / f"{sha256}.{suffix}")

    def put(self, content: bytes, *, sha256: str, suffix: str) -> tuple[str, bool]:
        key = check_content(content, sha256, suffix)
        return key, self._write(self.path(key), content)

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def mtime(self, key: str) -> float:
        return self.path(key).stat().st_mtime

    def iter_keys(self) -> Iterator[str]:
        """Every stored key, in sorted order (temporary and foreign files are skipped)."""
        for entry in self._files(self.root):
            key = entry.relative_to(self.root).as_posix()
            if is_key(key):
                yield key
