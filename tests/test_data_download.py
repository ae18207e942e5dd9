"""The download helper and tiny Shakespeare, without the internet: a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from course_lib.data import download, shakespeare
from course_lib.data.download import ChecksumError, DataUnavailable, fetch

PAYLOAD = b"To be, or not to be: that is the question.\n" * 100
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits += 1
        if self.path == "/missing":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    _Handler.hits = 0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    return tmp_path / "data"


def test_downloads_verifies_and_caches(server: str, cache: Path) -> None:
    path = fetch(f"{server}/file.txt", "demo/file.txt", SHA)
    assert path == cache / "demo/file.txt" and path.read_bytes() == PAYLOAD
    assert fetch(f"{server}/file.txt", "demo/file.txt", SHA) == path
    assert _Handler.hits == 1  # the second call is a verified cache hit
    assert not list(path.parent.glob("*.part"))


def test_corrupt_cache_is_replaced(server: str, cache: Path, capsys) -> None:
    target = cache / "demo/file.txt"
    target.parent.mkdir(parents=True)
    target.write_bytes(PAYLOAD[:-10])  # truncated earlier download
    assert fetch(f"{server}/file.txt", "demo/file.txt", SHA).read_bytes() == PAYLOAD
    assert "corrupt" in capsys.readouterr().out


def test_wrong_checksum_saves_nothing(server: str, cache: Path) -> None:
    with pytest.raises(ChecksumError, match="sha256"):
        fetch(f"{server}/file.txt", "demo/file.txt", "0" * 64)
    assert not list((cache / "demo").iterdir())  # no half or wrong file under any name


def test_unreachable_server_retries_then_explains(cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(download.time, "sleep", lambda s: None)
    with pytest.raises(DataUnavailable) as err:
        fetch("http://127.0.0.1:9/nothing", "demo/x.txt", SHA, timeout=2, retries=1)
    message = str(err.value)
    assert "offline" in message and "COURSE_DATA_DIR" in message and SHA in message


def test_http_error_is_data_unavailable(server: str, cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(download.time, "sleep", lambda s: None)
    with pytest.raises(DataUnavailable, match="404"):
        fetch(f"{server}/missing", "demo/x.txt", SHA)
    assert _Handler.hits == 2  # one retry


def test_offline_switch_never_touches_network(server: str, cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(DataUnavailable, match="COURSE_OFFLINE"):
        fetch(f"{server}/file.txt", "demo/file.txt", SHA)
    assert _Handler.hits == 0
    assert not (cache / "demo").exists()  # offline: no empty data folders left behind


def test_read_only_mirror_is_used(tmp_path: Path, monkeypatch) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "demo").mkdir(parents=True)
    (mirror / "demo/file.txt").write_bytes(PAYLOAD)
    mirror.joinpath("demo").chmod(0o555)
    monkeypatch.setenv("COURSE_DATA_DIR", str(mirror))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    try:
        assert fetch("http://127.0.0.1:9/x", "demo/file.txt", SHA) == mirror / "demo/file.txt"
    finally:
        mirror.joinpath("demo").chmod(0o755)


def test_bad_sha_argument() -> None:
    with pytest.raises(ValueError, match="64 hex"):
        fetch("http://127.0.0.1:9/x", "x", "abc")


def test_shakespeare_falls_back_to_generated_text(cache: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    text = shakespeare.load_tiny_shakespeare()
    out = capsys.readouterr().out
    assert "generated" in out and "COURSE_OFFLINE" in out
    distinct = len(set(text))  # a different vocabulary: the learner is told numbers will differ
    assert distinct != shakespeare.DISTINCT_CHARS
    assert f"{distinct} distinct characters where tiny Shakespeare has 65" in out
    assert "differ from the stored outputs" in out
    assert len(text) == 1_000_000 and text == shakespeare.generate_play()
    assert ":\n" in text[:200]


def test_shakespeare_uses_a_verified_local_copy(cache: Path, monkeypatch, capsys) -> None:
    # A fake "input.txt" with a matching checksum stands in for the real file.
    monkeypatch.setattr(shakespeare, "SHA256", SHA)
    (cache / "tinyshakespeare").mkdir(parents=True)
    (cache / shakespeare.RELPATH).write_bytes(PAYLOAD)
    assert shakespeare.load_tiny_shakespeare() == PAYLOAD.decode()
    assert "sha256 verified" in capsys.readouterr().out


def test_real_shakespeare_when_shared_data_is_present() -> None:
    shared = Path(__file__).resolve().parents[2] / "shared/data/tinyshakespeare/input.txt"
    if not shared.exists():
        pytest.skip("../shared/data is not beside the repository")
    assert download.sha256_of(shared) == shakespeare.SHA256


def test_generate_play_is_deterministic() -> None:
    assert shakespeare.generate_play(5000, seed=1) == shakespeare.generate_play(5000, seed=1)
    assert shakespeare.generate_play(5000, seed=1) != shakespeare.generate_play(5000, seed=2)
    with pytest.raises(ValueError):
        shakespeare.generate_play(0)
