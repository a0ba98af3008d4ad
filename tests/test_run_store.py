"""The run store: schemas refuse bad records, files are valid JSON Lines after any crash (a torn
last line is ignored, a corrupt one named), metrics.h5 follows the JSONL, a SIGKILLed writer
loses nothing it reported, and a failing sink never stops the run."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from pydantic import ValidationError

from graphnet.core.errors import GraphError, GraphFileError
from graphnet.evolution.records import EpochMetrics, GrowthEvent, read_jsonl
from graphnet.evolution.run_store import RunStore, TensorBoardSink, WandbSink, default_sinks

ROOT = Path(__file__).resolve().parents[1]
H5_FIELDS = (
    "epoch step loss train_acc test_acc edges neurons parameters density credits wall_time".split()
)


def row(epoch: int, **kw) -> dict:
    base = dict(epoch=epoch, step=10 * epoch, loss=1.0 / (epoch + 1), train_acc=0.5 + epoch / 100,
                test_acc=0.4 + epoch / 100, edges=100 + epoch, neurons=20 + epoch,
                parameters=120 + 2 * epoch, density=0.25, phase="grow", wall_time=0.5 * epoch)  # fmt: skip
    return {**base, **kw}


def event(epoch: int, **kw) -> dict:
    base = dict(epoch=epoch, step=10 * epoch, rule="add_neuron", reason="plateau", phase="grow",
                edges_added=3, edges_removed=0, neurons_added=1, neurons_removed=0,
                parameters_before=120, parameters_after=124)  # fmt: skip
    return {**base, **kw}


def filled(path: Path, epochs: int = 3) -> RunStore:
    store = RunStore(path)
    for k in range(epochs):
        store.log_metrics(row(k))
        store.log_event(event(k))
    return store


def test_round_trip(tmp_path):
    with RunStore(tmp_path / "run") as store:
        m0 = store.log_metrics(row(0, extra={"grad_norm": 1.25}, credits=-2.5))
        m1 = store.log_metrics(EpochMetrics(**row(1)))
        e0 = store.log_event(event(0, accuracy_before=0.7, score=-3.0, details={"ids": [1, 2]}))
        store.write_config({"seed": 3, "rules": ["a", "b"], "lr": 0.01})
        store.mark("running")
    store = RunStore(tmp_path / "run", create=False)
    assert store.metrics() == [m0, m1]
    assert store.metrics()[0].extra == {"grad_norm": 1.25}
    assert store.events() == [e0]
    assert store.events()[0].details == {"ids": [1, 2]} and store.events()[0].accuracy_after is None
    assert store.read_config() == {"seed": 3, "rules": ["a", "b"], "lr": 0.01}
    assert store.read_status()["status"] == "running" and store.read_status()["epoch"] == 1
    assert store.last_epoch == 1
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(s)["epoch"] for s in lines] == [0, 1]


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(test_accuracy=0.5), "test_accuracy\n  Extra inputs are not permitted"),
        (dict(train_acc=1.5), "train_acc\n  Input should be less than or equal to 1"),
        (dict(test_acc=-0.1), "test_acc\n  Input should be greater than or equal to 0"),
        (dict(loss=float("nan")), "loss\n  Input should be a finite number"),
        (dict(extra={"x": float("inf")}), "extra.x\n  Input should be a finite number"),
        (dict(edges=-1), "edges\n  Input should be greater than or equal to 0"),
    ],
)
def test_bad_metrics_are_refused_and_not_written(tmp_path, bad, match):
    store = RunStore(tmp_path)
    with pytest.raises(ValidationError, match=match):
        store.log_metrics(row(0, **bad))
    assert store.metrics() == [] and store.last_epoch is None


def test_bad_events_are_refused(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(ValidationError, match="edge_added\n  Extra inputs are not permitted"):
        store.log_event(event(0, edge_added=3))
    with pytest.raises(ValidationError, match="accuracy_after\n  Input should be less than or eq"):
        store.log_event(event(0, accuracy_after=2.0))
    with pytest.raises(ValidationError, match="details must be JSON data"):
        store.log_event(event(0, details={"w": np.zeros(2)}))
    assert store.events() == []


def test_each_append_is_one_line_on_disk_before_one_fsync(tmp_path, monkeypatch):
    store = filled(tmp_path, 1)
    seen = []
    fsync = os.fsync

    def spy(fd):
        seen.append((tmp_path / "events.jsonl").read_text().splitlines()[-1])
        fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    store.log_event(event(1, rule="split"))
    assert [json.loads(s)["rule"] for s in seen] == ["split"]


def test_epochs_must_increase(tmp_path):
    store = filled(tmp_path, 3)
    with pytest.raises(GraphError, match=r"epoch 1 is logged after epoch 2.*truncate_after"):
        store.log_metrics(row(1))
    assert [m.epoch for m in store.metrics()] == [0, 1, 2]


def test_torn_last_line_is_ignored_then_cut(tmp_path):
    filled(tmp_path, 3).close()
    for name in ("metrics.jsonl", "events.jsonl"):
        with open(tmp_path / name, "ab") as fh:
            fh.write(json.dumps(row(3) if name == "metrics.jsonl" else event(3)).encode()[:25])
    store = RunStore(tmp_path)  # reading alone changes nothing
    assert [m.epoch for m in store.metrics()] == [0, 1, 2] and len(store.events()) == 3
    assert not (tmp_path / "metrics.jsonl").read_bytes().endswith(b"\n")
    with pytest.warns(RuntimeWarning, match=r"metrics.jsonl: cut an incomplete last line \(25 by"):
        store.log_metrics(row(3))
    with pytest.warns(RuntimeWarning, match=r"events.jsonl: cut an incomplete last line"):
        store.log_event(event(3))
    for name in ("metrics.jsonl", "events.jsonl"):
        text = (tmp_path / name).read_text()
        assert text.endswith("\n")
        assert [json.loads(s)["epoch"] for s in text.splitlines()] == [0, 1, 2, 3]
    assert [m.epoch for m in RunStore(tmp_path).metrics()] == [0, 1, 2, 3]


def test_corrupt_middle_line_names_file_and_line(tmp_path):
    filled(tmp_path, 4).close()
    for name in ("metrics.jsonl", "events.jsonl"):
        lines = (tmp_path / name).read_text().splitlines(keepends=True)
        lines[2] = lines[2][:10] + "\n"
        (tmp_path / name).write_text("".join(lines))
    with pytest.raises(GraphFileError, match=r"metrics.jsonl: line 3 is not a valid EpochMetrics"):
        RunStore(tmp_path)
    with pytest.raises(GraphFileError, match=r"events.jsonl: line 3 .*invalid JSON"):
        read_jsonl(tmp_path / "events.jsonl", GrowthEvent)


def test_invalid_record_on_disk_names_the_field(tmp_path):
    filled(tmp_path, 2).close()
    with open(tmp_path / "events.jsonl", "a") as fh:
        fh.write(json.dumps(event(2, rules="x")) + "\n")
    with pytest.raises(GraphFileError, match=r"line 3 .*\(rules: Extra inputs are not permitted\)"):
        RunStore(tmp_path).events()


def test_truncate_after_keeps_exactly_the_earlier_epochs(tmp_path):
    store = filled(tmp_path, 6)
    store.log_event(event(2, rule="prune"))
    with open(tmp_path / "events.jsonl", "ab") as fh:
        fh.write(b'{"epoch": 6')  # a torn line goes too
    assert store.truncate_after(2) == 3 + 3
    assert [m.epoch for m in store.metrics()] == [0, 1, 2] and store.last_epoch == 2
    assert [(e.epoch, e.rule) for e in store.events()][-2:] == [(2, "add_neuron"), (2, "prune")]
    assert (tmp_path / "events.jsonl").read_bytes().endswith(b"\n")
    store.log_metrics(row(3))  # resumes cleanly after the cut
    assert [m.epoch for m in RunStore(tmp_path).metrics()] == [0, 1, 2, 3]
    assert store.truncate_after(-1) == 4 + 4 and store.metrics() == [] and store.last_epoch is None


def h5_columns(path: Path) -> dict[str, list]:
    with h5py.File(path, "r") as f:
        return {k: f[k][()].tolist() for k in f}


def jsonl_columns(store: RunStore) -> dict[str, list]:
    return {k: [getattr(m, k) for m in store.metrics()] for k in H5_FIELDS}


def test_h5_equals_jsonl_and_is_rebuilt(tmp_path):
    h5 = tmp_path / "metrics.h5"
    store = filled(tmp_path, 5)
    want = jsonl_columns(store)
    assert sorted(want) == sorted(H5_FIELDS) and len(want["epoch"]) == 5
    assert h5_columns(h5) == want
    store.close()
    h5.unlink()
    RunStore(tmp_path).close()
    assert h5_columns(h5) == want
    h5.write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])  # torn: unreadable
    RunStore(tmp_path).close()
    assert h5_columns(h5) == want
    with h5py.File(h5, "r+") as f:  # readable, one row short
        f["loss"].resize((4,))
    store = RunStore(tmp_path)
    assert h5_columns(h5) == want
    store.log_metrics(row(5))
    assert h5_columns(h5) == jsonl_columns(store) and len(h5_columns(h5)["epoch"]) == 6
    store.truncate_after(1)
    assert h5_columns(h5)["epoch"] == [0, 1]


CHILD = """
import sys
from graphnet.evolution.run_store import RunStore
sys.path.insert(0, {tests!r})
from test_run_store import event, row
store = RunStore({run!r})
for k in range(1_000_000):
    store.log_metrics(row(k))
    store.log_event(event(k))
    print(k + 1, flush=True)
"""


def test_sigkill_loses_nothing_reported(tmp_path):
    script = CHILD.format(tests=str(ROOT / "tests"), run=str(tmp_path))
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        reported = 0
        for line in child.stdout:
            reported = int(line)
            if reported >= 40:
                child.kill()  # SIGKILL, most likely mid-write
                break
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGKILL, err.decode()
    reported = max([reported, *map(int, out.split())])
    assert reported >= 40
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a torn line may be cut below
        store = RunStore(tmp_path)
        epochs = [m.epoch for m in store.metrics()]
        assert epochs == list(range(len(epochs))) and reported <= len(epochs) <= reported + 1
        events = store.events()
        assert reported <= len(events) <= len(epochs)
        assert h5_columns(tmp_path / "metrics.h5") == jsonl_columns(store)
        store.truncate_after(reported - 1)
        store.log_metrics(row(reported))
        store.log_event(event(reported))
    for name in ("metrics.jsonl", "events.jsonl"):
        lines = (tmp_path / name).read_text().splitlines()
        assert [json.loads(s)["epoch"] for s in lines] == list(range(reported + 1))


def test_config_status_and_errors(tmp_path):
    store = RunStore(tmp_path / "run")
    assert store.read_status() is None
    with pytest.raises(GraphFileError, match=r"config.json: no config was written"):
        store.read_config()
    with pytest.raises(GraphError, match=r"config.json: config is not JSON data"):
        store.write_config({"lr": float("nan")})
    store.write_config({"a": 1})
    store.write_config({"a": 2})
    assert store.read_config() == {"a": 2}
    with pytest.raises(GraphError, match=r"status must be one of .* got 'done'"):
        store.mark("done")
    store.mark("failed")
    assert store.read_status()["status"] == "failed"
    (tmp_path / "run" / "config.json").write_text("[1, 2]")
    with pytest.raises(GraphFileError, match="expected a JSON object, found list"):
        store.read_config()
    store.close()
    with pytest.raises(GraphError, match="the run store is closed"):
        store.log_metrics(row(0))
    with pytest.raises(GraphFileError, match="no such run directory"):
        RunStore(tmp_path / "missing", create=False)
    assert repr(store) == f"RunStore({str(tmp_path / 'run')!r}, last_epoch=None)"


class Recorder:
    def __init__(self):
        self.rows, self.events, self.closed = [], [], False

    def log_metrics(self, row):
        self.rows.append(row)

    def log_event(self, event):
        self.events.append(event)

    def close(self):
        self.closed = True


class Broken(Recorder):
    def log_metrics(self, row):
        raise ConnectionError("no network")

    def __repr__(self):
        return "Broken()"


def test_failing_sink_warns_once_and_is_dropped(tmp_path):
    good, bad = Recorder(), Broken()
    store = RunStore(tmp_path, sinks=[bad, good])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(3):
            store.log_metrics(row(k))
            store.log_event(event(k))
        store.close()
    assert [str(w.message) for w in caught] == [
        f"{tmp_path}: sink Broken() failed in log_metrics (ConnectionError: no network); it is "
        "dropped for the rest of the run"
    ]
    assert [r["epoch"] for r in good.rows] == [0, 1, 2] and len(good.events) == 3
    assert good.rows[0] == EpochMetrics(**row(0)).model_dump() and good.closed
    assert bad.events == [] and not bad.closed
    assert len(RunStore(tmp_path).metrics()) == 3


def test_default_sinks_without_optional_packages(tmp_path):
    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed")
    assert default_sinks(tmp_path, {}) == []
    with pytest.warns(UserWarning, match="wandb is not installed"):
        assert default_sinks(tmp_path, {}, wandb=True) == []
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.warns(UserWarning, match="tensorboard is not installed"):
            assert default_sinks(tmp_path, {}, tensorboard=True) == []


def test_wandb_sink_offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    sink = WandbSink("graphnet-test", "run", {"seed": 0}, directory=tmp_path / "wandb")
    with RunStore(tmp_path, sinks=[sink]) as store:
        store.log_metrics(row(0))
        store.log_event(event(0))
    assert any((tmp_path / "wandb").rglob("*.wandb"))


def test_tensorboard_sink(tmp_path):
    pytest.importorskip("tensorboard")
    sink = TensorBoardSink(tmp_path / "tb")
    with RunStore(tmp_path, sinks=[sink]) as store, warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the sink must not be dropped
        store.log_metrics(row(0))
        store.log_event(event(0))
    assert any((tmp_path / "tb").glob("events.out.tfevents.*"))
