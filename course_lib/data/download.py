"""Download a file once, keep it in a cache folder, and prove it is the right file (sha256).

Offline-first: a verified cached copy is used without touching the network; a download has a
timeout and one retry, is written to a temporary file and renamed only once its checksum matches
(so a half-downloaded or corrupt file is never left under the real name); when nothing can be had,
``DataUnavailable`` says exactly what to do.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ENV_DIR = "COURSE_DATA_DIR"
ENV_OFFLINE = "COURSE_OFFLINE"


class DataUnavailable(RuntimeError):
    """The file is neither cached nor downloadable right now; the message says what to do."""


class ChecksumError(DataUnavailable):
    """A downloaded file does not have the expected sha256."""


def data_dirs() -> list[Path]:
    """Folders searched for data, in order: ``$COURSE_DATA_DIR`` (if set), then the user cache."""
    dirs = []
    if os.environ.get(ENV_DIR):
        dirs.append(Path(os.environ[ENV_DIR]).expanduser())
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    dirs.append(Path(cache) / "from-loss-to-transformer")
    return dirs


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return os.access(folder, os.W_OK)
    except OSError:
        return False


def _download(url: str, dest: Path, sha256: str, timeout: float) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        got = sha256_of(tmp)
        if got != sha256:
            raise ChecksumError(
                f"{url} downloaded, but its sha256 is {got}, not the expected {sha256}. "
                "The file may have changed upstream or the download was tampered with; "
                "it was not saved."
            )
        os.replace(tmp, dest)  # atomic: the real name only ever holds a verified file
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fetch(
    url: str,
    relpath: str,
    sha256: str,
    *,
    timeout: float = 20.0,
    retries: int = 1,
) -> Path:
    """Return a verified local copy of ``url`` stored as ``relpath`` under a data folder.

    Looks in every folder of ``data_dirs()`` first (checksum verified; a corrupt copy in a
    writable folder is deleted), then downloads into the first writable one.
    ``$COURSE_OFFLINE=1`` skips the network. Raises ``DataUnavailable`` with instructions.
    """
    if len(sha256) != 64:
        raise ValueError(f"sha256 must be 64 hex characters, got {sha256!r}")
    dirs = data_dirs()
    for folder in dirs:
        path = folder / relpath
        if path.is_file():
            if sha256_of(path) == sha256:
                return path
            if _writable(path.parent):
                print(f"{path} is corrupt (wrong sha256); deleting it and fetching a fresh copy.")
                path.unlink()
    where = " or ".join(str(f / relpath) for f in dirs)
    manual = (
        f"To fix: connect to the internet and run again, or download {url} yourself and save it "
        f"as {where} (sha256 {sha256}), or point {ENV_DIR} at a folder holding {relpath}."
    )
    if os.environ.get(ENV_OFFLINE, "0") not in {"", "0"}:  # before any folder is created
        raise DataUnavailable(f"{relpath} is not cached and {ENV_OFFLINE} is set. {manual}")
    target = next((f / relpath for f in dirs if _writable((f / relpath).parent)), None)
    if target is None:
        raise DataUnavailable(f"no writable data folder among {where}. {manual}")
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            _download(url, target, sha256, timeout)
            return target
        except ChecksumError:
            raise
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            last = e
            if attempt < retries:
                time.sleep(1.0)
    raise DataUnavailable(f"could not download {url} ({last}); you may be offline. {manual}")
