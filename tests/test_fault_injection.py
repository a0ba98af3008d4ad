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

import pytest

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


# ---------------------------------------------------------------- a run's history
# Small and quick, with growth events: a sparse seed grown every other epoch.
RUN = {
    "network": {"hidden": [96, 48], "density": 0.01},
    "data": {"samples": 300},
    "stop": {"max_epochs": 5},
    "bootstrap_epochs": 1,
    "stabilisation_epochs": 1,
    "economy": {"enabled": False},
    "phases": [{"name": "coarse", "start_epoch": 0, "max_structures": 12}],
    "rules": [{"name": "dead_highways"}, {"name": "extrema_routing"}],
    "tournament": {"train_steps": 2, "max_candidates": 3},
    "checkpoint_every": 1,
    "progress": False,
}


class _DiesAt:
    """A trainer that is killed (KeyboardInterrupt) when it starts epoch ``epoch``."""

    def __init__(self, epoch: int) -> None:
        from graphnet.evolution.trainer import EpochTrainer

        self.inner, self.epoch = EpochTrainer(), epoch

    def train(self, ctx, *args, **kw):
        if ctx.epoch >= self.epoch:
            raise KeyboardInterrupt
        return self.inner.train(ctx, *args, **kw)


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory):
    return gn.evolve(RUN, dir=tmp_path_factory.mktemp("whole"))


def _interrupted(directory, epoch: int = 3):
    with pytest.raises(KeyboardInterrupt):
        gn.evolve(RUN, dir=directory, trainer=_DiesAt(epoch))
    return directory


@pytest.mark.parametrize("lost", ["metrics.jsonl", "events.jsonl"])
def test_resume_restores_a_removed_history_file_from_the_resume_point(whole_run, tmp_path, lost):
    import json

    d = _interrupted(tmp_path / "run")
    (d / lost).unlink()
    with pytest.warns(UserWarning, match="rewritten from it"):
        resumed = gn.evolve(RUN, dir=d)
    rows = [json.loads(s) for s in (d / "metrics.jsonl").read_text().splitlines()]
    events = [json.loads(s) for s in (d / "events.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(5)) == [h["epoch"] for h in resumed.history]
    assert [e["rule"] for e in events] == [e["rule"] for e in whole_run.events]
    assert len(whole_run.events) >= 1  # the test means something only if events happened
    assert [r["loss"] for r in rows] == pytest.approx([h["loss"] for h in whole_run.history])


def test_a_checkpoint_pointer_into_another_run_is_refused(tmp_path):
    import json
    import shutil

    a, b = _interrupted(tmp_path / "a"), _interrupted(tmp_path / "b", epoch=2)
    pointer = json.loads((b / "checkpoint.json").read_text())
    for named in (f"../a/{json.loads((a / 'checkpoint.json').read_text())['path']}",
                  str((a / "checkpoints").resolve()), "checkpoints/../../a/checkpoints/epoch_00002"):  # fmt: skip
        (b / "checkpoint.json").write_text(json.dumps({**pointer, "path": named}))
        with pytest.raises(gn.GraphFileError, match="not a resume point of this run"):
            gn.evolve(RUN, dir=b)
    # a symbolic link that makes another run's resume point look like this one's
    shutil.rmtree(b / "checkpoints")
    (b / "checkpoints").mkdir()
    (b / "checkpoints" / "epoch_00002").symlink_to((a / "checkpoints" / "epoch_00002").resolve())
    (b / "checkpoint.json").write_text(json.dumps({"epoch": 2, "path": "checkpoints/epoch_00002"}))
    with pytest.raises(gn.GraphFileError, match="not a resume point of this run"):
        gn.evolve(RUN, dir=b)


def test_a_second_writer_is_refused_and_deletes_nothing(tmp_path):
    from graphnet.evolution.run_lock import run_lock

    d = _interrupted(tmp_path / "run")
    before = sorted(p.relative_to(d) for p in d.rglob("*"))
    proc = _python(
        f"""
        from graphnet.evolution.run_lock import run_lock
        import sys, time
        with run_lock({str(d)!r}):
            print("holding", flush=True)
            sys.stdin.readline()
        """,
        stdin=subprocess.PIPE,
    )
    assert proc.stdout.readline().strip() == "holding"
    try:
        with pytest.raises(
            gn.GraphFileError, match=r"being written by another process \(pid \d+\)"
        ):
            gn.evolve(RUN, dir=d, resume=False)  # graphnet grow --fresh
        assert sorted(p.relative_to(d) for p in d.rglob("*")) == before
    finally:
        proc.communicate("\n", timeout=30)
    with run_lock(d):  # released when its holder exits
        pass


def test_report_refuses_a_metrics_file_cut_mid_way(whole_run, tmp_path):
    import shutil

    from graphnet.lab.report import report

    d = tmp_path / "run"
    shutil.copytree(whole_run.dir, d)
    text = (d / "metrics.jsonl").read_bytes()
    (d / "metrics.jsonl").write_bytes(text[: len(text) // 2])  # cut mid-line, mid-file
    with pytest.raises(
        gn.GraphFileError, match=r"metrics.jsonl: \d epochs, but summary.json counts 5"
    ):
        report([d], tmp_path / "report")


def test_report_of_one_run_named_twice_counts_it_once(whole_run, tmp_path, capsys):
    from graphnet.cli import main

    assert (
        main(["report", str(whole_run.dir), str(whole_run.dir) + "/", "--out", str(tmp_path / "r")])
        == 0
    )
    assert "(1 runs)" in capsys.readouterr().out
    assert "1 runs in 1 groups" in (tmp_path / "r" / "report.md").read_text()


def test_a_run_killed_while_writing_its_report_gets_one_on_the_rerun(whole_run, tmp_path, capsys):
    import shutil

    from graphnet.cli import main

    d = tmp_path / "run"
    shutil.copytree(whole_run.dir, d)
    shutil.rmtree(d / "report", ignore_errors=True)
    (d / "report").mkdir()
    (d / "report" / "accuracy_over_epochs.png").write_bytes(b"half a png")  # killed here
    assert main(["grow", "--config", str(d / "config.json"), "--out", str(d)]) == 0
    assert "without its report; wrote" in capsys.readouterr().out
    assert (d / "report" / "report.md").is_file()
    assert main(["grow", "--config", str(d / "config.json"), "--out", str(d)]) == 1  # now finished
    assert "holds a finished run" in capsys.readouterr().err
