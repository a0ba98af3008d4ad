"""Regression tests for the command line's silent wrong answers (issue 14): a flag the user
did not give never replaces a --config file's value, and every number is checked where it
is parsed, with one line that names it."""

from __future__ import annotations

import pytest
import torch

from graphnet.cli import _config, _parser, main


def _cfg(tmp_path, text: str, *flags: str):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    args = _parser().parse_args(["grow", "--config", str(path), *flags])
    return _config(args, args.preset)


def test_a_config_files_device_and_progress_stand_when_no_flag_is_given(tmp_path):
    cfg = _cfg(tmp_path, "progress: false\ntraining:\n  device: cuda:1\n  lr: 0.5\n")
    assert cfg.training.device == "cuda:1" and cfg.progress is False
    assert cfg.training.lr == pytest.approx(0.5)
    cfg = _cfg(tmp_path, "training:\n  device: cuda:1\n", "--device", "cpu")
    assert cfg.training.device == "cpu"  # a flag the user gave still wins


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize(
    "device, message", [("tpu", "unknown device 'tpu'"), ("cuda", "CUDA is not available")]
)
def test_a_config_files_device_that_is_not_here_is_refused(tmp_path, capsys, device, message):
    path = tmp_path / "run.yaml"
    path.write_text(f"training:\n  device: {device}\nstop:\n  max_epochs: 1\n")
    assert main(["grow", "--config", str(path), "--out", str(tmp_path / "r"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()  # refused before any file is written


@pytest.mark.parametrize(
    "argv, message",
    [
        (["grow", "--budget", "0"], "a budget count is a whole number of parameters, 1 or more"),
        (["grow", "--budget", "0%"], r"a budget share lies in (0%, 100%]"),
        (["grow", "--budget", "150%"], r"a budget share lies in (0%, 100%]"),
        (["grow", "--budget", "inf"], "expected a parameter count or a share like 20%"),
        (["grow", "--budget", "nan%"], "expected a parameter count or a share like 20%"),
        (["grow", "--density", "nan"], "expected a density in (0, 1], got 'nan'"),
        (["grow", "--density", "0"], "a density lies in (0, 1]"),
        (["train", "--method", "random", "--density", "0"], "a density lies in (0, 1]"),
        (["train", "--method", "dense", "--ddp", "0"], "argument --ddp: expected 1 or more"),
        (["grow", "--epochs", "0"], "argument --epochs: expected 1 or more"),
        (["multires", "--density", "2"], "a density lies in (0, 1]"),
    ],
)
def test_numbers_are_checked_where_they_are_parsed(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--out", "/tmp/never-written"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_batch_size_0_in_a_config_file_is_refused_at_once(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text("training:\n  batch_size: 0\n")
    assert main(["grow", "--config", str(path), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "batch_size must be at least 1" in err and err.count("\n") == 1


def test_python_dash_m_graphnet_runs_the_command_line():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "graphnet", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "grow" in out.stdout
