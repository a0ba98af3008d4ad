"""Fault injection (issue 14): a full disk, kill -9 mid-write, files removed or swapped under
a run, two writers on one run directory. Each fault ends in one clear error or an exact
resume, never a crash, a silently shorter history or a pile of temporary files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import graphnet as gn


def _python(code: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


# ---------------------------------------------------------------- a full disk
def test_a_full_disk_during_save_is_one_error_not_a_crash(tmp_path):
    # RLIMIT_FSIZE makes every write past 100 kB fail with EFBIG, as a full disk fails with
    # ENOSPC; HDF5 writing the file itself ended in a segmentation fault (exit 139)
    target = tmp_path / "net.h5"
    gn.save(gn.mlp([3, 2], seed=0), target)  # an old file, which must survive
    proc = _python(
        f"""
        import resource, signal
        import graphnet as gn
        g = gn.mlp([200, 400, 10], density=0.5, seed=0)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            gn.save(g, {str(target)!r})
        except gn.GraphFileError as err:
            print(err)
        """
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "net.h5: cannot write the file (File too large)" in out
    assert gn.load(target).equals(gn.mlp([3, 2], seed=0))
    assert not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------- kill -9 mid-write
def test_temporaries_of_killed_writers_are_removed_by_the_next_save(tmp_path):
    target = tmp_path / "net.h5"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    import socket

    host = socket.gethostname()
    stale = tmp_path / f".net.h5.{int(dead.stdout)}@{host}.abc123.tmp"
    stale.write_bytes(b"x" * 1000)
    other_host = tmp_path / f".net.h5.{int(dead.stdout)}@another-host.abc123.tmp"
    other_host.write_bytes(b"x")
    mine = tmp_path / f".net.h5.{os.getpid()}@{host}.abc123.tmp"  # a live writer's
    mine.write_bytes(b"x")
    unrelated = tmp_path / ".other.h5.1@x.abc.tmp"
    unrelated.write_bytes(b"x")
    gn.save(gn.mlp([3, 2], seed=0), target)
    assert not stale.exists()
    assert other_host.exists() and mine.exists() and unrelated.exists()  # not provably stale


def test_kill_9_during_repeated_saves_leaves_no_temporaries_after_the_next_save(tmp_path):
    target = tmp_path / "big.h5"
    for attempt in range(4):
        proc = _python(
            f"""
            import graphnet as gn
            g = gn.mlp([300, 600, 10], density=1.0, seed=0)
            print("ready", flush=True)
            while True:
                gn.save(g, {str(target)!r})
            """
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3 + 0.15 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    gn.save(gn.mlp([3, 2], seed=0), target)
    assert not list(tmp_path.glob(".*.tmp"))
    assert gn.load(target).equals(gn.mlp([3, 2], seed=0))
