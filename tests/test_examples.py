"""The example scripts run and say what they claim (small settings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_multires_example_switches_without_loss():
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "multires.py"), "--seeds", "2", "--epochs", "2"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = {line[:32].strip(): line[32:].split() for line in out.stdout.splitlines()[2:]}
    assert set(rows) == {
        "coarse 4x4",
        "fine right after the switch",
        "coarse-to-fine final",
        "fine only",
    }
    # the fine network starts as the coarse one: the same accuracy, seed for seed (mean and std)
    assert rows["coarse 4x4"] == rows["fine right after the switch"]
