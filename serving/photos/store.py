"""Content-addressed photo store on the local filesystem.

An object's key is derived from the SHA-256 of its bytes: ``ab/cd/<sha256>.<suffix>`` (two levels
of fan-out so no directory grows huge). Photos and their thumbnails live side by side, each under
its own hash. Identical uploads are stored once.

* **Atomic**: bytes go to a temporary file in the destination directory, are fsynced, then
  published under the final name with ``os.link`` (which fails if the name exists, so exactly one
  concurrent writer reports ``created=True``), falling back to ``os.replace`` on filesystems
  without hard links; the directory is fsynced too. A reader never sees a partial object.
* **Private**: files are created ``0o600`` and directories ``0o700`` (patient photos).
* **Safe keys**: :meth:`PhotoStore.path` accepts only keys of the exact form above, so a key can
  never address anything outside the root (no ``..``, no absolute paths, no symlink escapes).
* **Integrity**: :meth:`PhotoStore.put` refuses content whose SHA-256 is not the given one.

Deleting: objects are shared by content, so a request whose transaction fails deletes only the
objects it created itself and that no photo row references; a request that commits puts its
objects again afterwards (a no-op unless a concurrent failure removed a shared one). For crashes
between the write and the commit, sweep orphans: list :meth:`iter_keys`, subtract the keys the
database references, and delete what is left and older than a grace period (:meth:`mtime`).
Leftover temporary files of crashed writes start with ``.tmp-``; :meth:`sweep_temp_files` removes
old ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["InvalidKey", "PhotoStore"]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_SUFFIX = re.compile(r"[a-z0-9]{1,8}")
_KEY = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})\.([a-z0-9]{1,8})")
_TMP_PREFIX = ".tmp-"
FILE_MODE = 0o600
DIR_MODE = 0o700


class InvalidKey(ValueError):
    """A key that is not of the form ``ab/cd/<sha256>.<suffix>`` (or would leave the root)."""


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


class PhotoStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not self.root.exists():
            self.root.mkdir(parents=True, mode=DIR_MODE)
            os.chmod(self.root, DIR_MODE)
        self._real_root = self.root.resolve(strict=True)

    # -- keys ---------------------------------------------------------------------------------

    @staticmethod
    def key_for(sha256: str, suffix: str) -> str:
        sha256 = sha256.lower()
        suffix = suffix.lower().lstrip(".")
        if not _SHA256.fullmatch(sha256):
            raise InvalidKey(f"not a hex SHA-256: {sha256!r}")
        if not _SUFFIX.fullmatch(suffix):
            raise InvalidKey(f"invalid suffix {suffix!r} (1-8 lowercase letters/digits)")
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.{suffix}"

    def path(self, key: str) -> Path:
        """The file of ``key``; refuses any key not of the exact form ``ab/cd/<sha256>.<suffix>``."""
        match = _KEY.fullmatch(key) if isinstance(key, str) else None
        if match is None or match[3][:2] != match[1] or match[3][2:4] != match[2]:
            raise InvalidKey(f"invalid photo key {key!r}")
        path = self.root / match[1] / match[2] / f"{match[3]}.{match[4]}"
        # Defence in depth: a symlinked fan-out directory must not lead outside the root.
        parent = path.parent
        if parent.exists() and not parent.resolve().is_relative_to(self._real_root):
            raise InvalidKey(f"photo key {key!r} resolves outside the store")
        return path

    # -- objects ------------------------------------------------------------------------------

    def put(self, content: bytes, *, sha256: str, suffix: str) -> tuple[str, bool]:
        """Store ``content`` under its hash. Returns ``(key, created)``; ``created`` is False when
        the object already existed (nothing is written then)."""
        key = self.key_for(sha256, suffix)
        actual = hashlib.sha256(content).hexdigest()
        if actual != sha256.lower():
            raise ValueError(f"content hash {actual} does not match the given sha256 {sha256}")
        path = self.path(key)
        if path.is_file() and path.stat().st_size == len(content):
            return key, False
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
        return key, created

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

    def writable(self) -> bool:
        """Whether objects can be written now (for readiness checks)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=_TMP_PREFIX):
                return True
        except OSError:
            return False

    def read(self, key: str) -> bytes:
        """The object's bytes; ``FileNotFoundError`` when there is none."""
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        """Remove the object; no error if it is missing."""
        self.path(key).unlink(missing_ok=True)

    def mtime(self, key: str) -> float:
        """When the object was stored (seconds since the epoch), for the orphan sweep's grace period."""
        return self.path(key).stat().st_mtime

    def iter_keys(self) -> Iterator[str]:
        """Every stored key, in sorted order (temporary and foreign files are skipped)."""
        for level1 in sorted(self.root.iterdir()):
            if not (level1.is_dir() and re.fullmatch(r"[0-9a-f]{2}", level1.name)):
                continue
            for level2 in sorted(level1.iterdir()):
                if not (level2.is_dir() and re.fullmatch(r"[0-9a-f]{2}", level2.name)):
                    continue
                for entry in sorted(level2.iterdir()):
                    key = f"{level1.name}/{level2.name}/{entry.name}"
                    match = _KEY.fullmatch(key)
                    if match and match[3][:4] == match[1] + match[2] and entry.is_file():
                        yield key

    def sweep_temp_files(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary files left by crashed writes; returns how many were removed."""
        cutoff = time.time() - older_than_s
        removed = 0
        for tmp in self.root.glob(f"*/*/{_TMP_PREFIX}*"):
            with contextlib.suppress(FileNotFoundError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    removed += 1
        return removed
