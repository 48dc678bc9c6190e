"""Atomic writes: the target holds the old content or the new, and a failed write leaves no litter."""

import doctest
import os
import stat

import pytest

from ssl_engine import files
from ssl_engine.files import atomic_directory, atomic_write, atomic_write_path


class Crash(Exception):
    """Stands for anything that interrupts a writer half-way."""


def listing(directory):
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_write_creates_and_replaces(tmp_path):
    target = tmp_path / "a.bin"
    with atomic_write(target) as f:
        f.write(b"first")
    with atomic_write(target) as f:
        f.write(b"second")
    assert target.read_bytes() == b"second"
    assert listing(tmp_path) == ["a.bin"]


def test_text_mode_writes_utf8(tmp_path):
    target = tmp_path / "a.json"
    with atomic_write(target, "w") as f:
        f.write('{"name": "café"}')
    assert target.read_bytes() == '{"name": "café"}'.encode()


@pytest.mark.parametrize("mode", ["ab", "r", "x", "w+"])
def test_only_write_modes_are_accepted(tmp_path, mode):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "a", mode):
            pass
    assert listing(tmp_path) == []


def test_a_crash_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(Crash):
        with atomic_write(target) as f:
            f.write(b"half of the new")
            f.flush()
            # The target is untouched while the new content is being written.
            assert target.read_bytes() == b"old"
            raise Crash
    assert target.read_bytes() == b"old"
    assert listing(tmp_path) == ["a.bin"]


def test_keyboard_interrupt_cleans_up_too(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(tmp_path / "a.bin") as f:
            f.write(b"x")
            raise KeyboardInterrupt
    assert listing(tmp_path) == []


def test_the_temporary_is_a_hidden_sibling_created_exclusively(tmp_path):
    target = tmp_path / "a.bin"
    with atomic_write(target) as f:
        temporary = os.path.basename(f.name)
        assert os.path.dirname(f.name) == str(tmp_path)
        assert "x" in f.mode
    assert temporary.startswith(".a.bin.") and temporary.endswith(".tmp")


def test_permissions_are_those_of_a_plain_open(tmp_path, umask_022):
    # Not mkstemp's 0o600: item images and artifacts are read by other processes.
    with atomic_write(tmp_path / "a.bin") as f:
        f.write(b"x")
    with atomic_write_path(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"x")
    (tmp_path / "plain.bin").write_bytes(b"x")
    mode_of = {name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("a.bin", "b.bin", "plain.bin")}
    assert mode_of == {"a.bin": 0o644, "b.bin": 0o644, "plain.bin": 0o644}


def test_a_missing_directory_is_an_error_not_created(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_write(tmp_path / "missing" / "a.bin") as f:
            f.write(b"x")
    assert listing(tmp_path) == []


def test_path_writer_replaces_on_success_and_cleans_up_on_failure(tmp_path):
    target = tmp_path / "index.faiss"
    target.write_bytes(b"old")
    with pytest.raises(Crash):
        with atomic_write_path(target) as tmp:
            assert not tmp.exists() and tmp.parent == tmp_path
            tmp.write_bytes(b"half")
            raise Crash
    assert target.read_bytes() == b"old" and listing(tmp_path) == ["index.faiss"]
    with atomic_write_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and listing(tmp_path) == ["index.faiss"]


def test_a_path_writer_that_writes_nothing_fails_loudly(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_write_path(tmp_path / "a.bin"):
            pass
    assert listing(tmp_path) == []


@pytest.mark.parametrize("fsync", [False, True])
def test_fsync_flushes_the_file_and_then_its_directory(tmp_path, monkeypatch, fsync):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", recording_fsync)
    with atomic_write(tmp_path / "a.bin", fsync=fsync) as f:
        f.write(b"x")
    with atomic_write_path(tmp_path / "b.bin", fsync=fsync) as tmp:
        tmp.write_bytes(b"x")
    # File first (before the rename), then the directory (after it).
    assert synced == ([False, True, False, True] if fsync else [])


def test_atomic_directory_swaps_a_whole_tree(tmp_path):
    target = tmp_path / "encoder"
    target.mkdir()
    (target / "stale.bin").write_bytes(b"old")
    with atomic_directory(target) as tmp:
        assert not tmp.exists() and tmp.parent == tmp_path
        tmp.mkdir()
        (tmp / "model.safetensors").write_bytes(b"new")
    assert listing(target) == ["model.safetensors"]
    assert listing(tmp_path) == ["encoder"]


def test_atomic_directory_creates_a_new_tree(tmp_path):
    with atomic_directory(tmp_path / "encoder") as tmp:
        tmp.mkdir()
        (tmp / "config.json").write_text("{}")
    assert listing(tmp_path / "encoder") == ["config.json"]


def test_a_crash_while_filling_a_directory_keeps_the_old_tree(tmp_path):
    target = tmp_path / "encoder"
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"old")
    with pytest.raises(Crash):
        with atomic_directory(target) as tmp:
            tmp.mkdir()
            (tmp / "model.safetensors").write_bytes(b"half")
            raise Crash
    assert (target / "model.safetensors").read_bytes() == b"old"
    assert listing(tmp_path) == ["encoder"]


def test_a_directory_writer_that_writes_nothing_keeps_the_old_tree(tmp_path):
    target = tmp_path / "encoder"
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"old")
    with pytest.raises(FileNotFoundError):
        with atomic_directory(target):
            pass
    assert (target / "model.safetensors").read_bytes() == b"old"
    assert listing(tmp_path) == ["encoder"]


def test_docstring_example():
    failures, attempted = doctest.testmod(files)
    assert attempted and not failures
