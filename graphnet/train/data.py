"""Embedded data sets (nothing is downloaded) and the checks every batch passes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from graphnet.core.errors import GraphError

__all__ = ["Dataset", "digits", "check_batch"]


@dataclass
class Dataset:
    """Train and test tensors plus the preprocessing that produced them (kept with a model so
    that it sees the same input pipeline later)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    preprocessing: dict = field(default_factory=dict)

    @property
    def num_features(self) -> int:
        return int(self.x_train.shape[1])

    def transform(self, x) -> torch.Tensor:
        """Apply the stored preprocessing to raw inputs."""
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        mean = torch.tensor(self.preprocessing["mean"], dtype=torch.float32)
        std = torch.tensor(self.preprocessing["std"], dtype=torch.float32)
        return (x - mean) / std


def digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1797 images, 64 features, 10 classes, shipped
    inside scikit-learn), split per class and standardised with the training set's statistics.

    Examples
    --------
    >>> d = digits()
    >>> d.x_train.shape, d.x_test.shape, d.num_classes
    (torch.Size([1347, 64]), torch.Size([450, 64]), 10)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x.astype(np.float32), y, test_size=test_fraction, random_state=seed, stratify=y
    )
    mean = x_tr.mean(0)
    std = x_tr.std(0)
    std = np.where(std < 1e-6, 1.0, std).astype(np.float32)  # constant pixels: leave unscaled
    prep = {"kind": "standardise", "mean": mean.tolist(), "std": std.tolist()}
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return Dataset(
        to_t((x_tr - mean) / std),
        to_t(y_tr.astype(np.int64)),
        to_t((x_te - mean) / std),
        to_t(y_te.astype(np.int64)),
        10,
        prep,
    )


def check_batch(
    x: torch.Tensor, y: torch.Tensor | None, num_inputs: int, num_classes: int | None = None
) -> None:
    """Raise :class:`GraphError` naming the problem: wrong shape, a NaN or infinite feature
    (row and column), or a label outside ``0..num_classes-1``.

    Examples
    --------
    >>> check_batch(torch.tensor([[0.0, float("nan")]]), None, 2)
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphError: input row 0, feature 1 is nan; inputs must be finite
    """
    if x.dim() != 2 or x.shape[1] != num_inputs:
        raise GraphError(f"inputs must have shape (batch, {num_inputs}), got {tuple(x.shape)}")
    bad = torch.nonzero(~torch.isfinite(x))
    if bad.numel():
        r, c = (int(v) for v in bad[0])
        raise GraphError(f"input row {r}, feature {c} is {float(x[r, c])}; inputs must be finite")
    if y is not None:
        if y.shape != (x.shape[0],):
            raise GraphError(f"labels must have shape ({x.shape[0]},), got {tuple(y.shape)}")
        if num_classes is not None and y.numel() and (y.min() < 0 or y.max() >= num_classes):
            raise GraphError(
                f"labels must lie in 0..{num_classes - 1}, got {int(y.min())}..{int(y.max())}"
            )
