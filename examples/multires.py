"""Multi-resolution training on digits, with seeds and error bars: a network trained on 4x4
images (coarse) and then, initialised from it, on the 8x8 images (fine), against the same
network trained on 8x8 images from the start for as many epochs in total.

    .venv/bin/python examples/multires.py [--seeds 5] [--epochs 30]

The fine network starts as the coarse one exactly (each coarse weight split over its 2x2
pixels), so its accuracy right after the switch equals the coarse accuracy; the table shows
mean ± std (ddof 1) over seeds of the coarse, switch and final test accuracies.
"""

from __future__ import annotations

import argparse

import numpy as np

from graphnet.lab.multires import multires_train


def main(seeds: int, epochs: int) -> dict:
    cfg = {"network": {"hidden": [128, 64], "density": 0.1}, "progress": False}
    rows = {
        "coarse 4x4": [],
        "fine right after the switch": [],
        "coarse-to-fine final": [],
        "fine only": [],
    }
    for seed in range(seeds):
        out = multires_train({**cfg, "seed": seed}, factors=(2, 1), epochs_per_scale=epochs)
        coarse, fine = out["scales"]
        rows["coarse 4x4"].append(coarse["history"][-1]["test_acc"])
        rows["fine right after the switch"].append(fine["initial_test_acc"])
        rows["coarse-to-fine final"].append(fine["history"][-1]["test_acc"])
        only = multires_train({**cfg, "seed": seed}, factors=(1,), epochs_per_scale=2 * epochs)
        rows["fine only"].append(only["scales"][0]["history"][-1]["test_acc"])
    print(f"digits, hidden [128, 64] at 10%, {seeds} seeds, {epochs} epochs per scale")
    print(f"{'':32} {'test accuracy (%)':>20}")
    for name, accs in rows.items():
        a = 100 * np.asarray(accs)
        print(f"{name:32} {a.mean():8.2f} ± {a.std(ddof=1) if a.size > 1 else 0:5.2f}")
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=30)
    a = p.parse_args()
    main(a.seeds, a.epochs)
