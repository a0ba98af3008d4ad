"""The default trainer of an evolution run: cross-entropy over seeded mini-batches, gradient
norms recorded for the growth economy."""

from __future__ import annotations

import torch

from compilers.devices import resolve_device
from graphnet.core.errors import GraphError
from graphnet.train.classifier import accuracy

from .protocols import Context, seed_for

__all__ = [
    "EpochTrainer", "evaluate", "make_optimizer", "batch_order", "resolve_batch_size",
    "resolve_device", "data_on",
]  # fmt: skip


def make_optimizer(model: torch.nn.Module, training) -> torch.optim.Optimizer:
    """The optimizer a :class:`TrainingConfig` names, over ``model``'s parameters.

    >>> import graphnet as gn
    >>> from graphnet.evolution.config import TrainingConfig
    >>> type(make_optimizer(gn.compile(gn.mlp([3, 2], 1.0)), TrainingConfig())).__name__
    'Adam'
    """
    p, t = model.parameters(), training
    if t.optimizer == "adam":
        return torch.optim.Adam(p, lr=t.lr, weight_decay=t.weight_decay)
    if t.optimizer == "adamw":
        return torch.optim.AdamW(p, lr=t.lr, weight_decay=t.weight_decay)
    return torch.optim.SGD(p, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)


def resolve_batch_size(config, g) -> int:
    """The config's batch size; ``"auto"``: the largest power of two whose training memory for
    ``g`` fits a quarter of the available memory (at most 1024).

    >>> import graphnet as gn
    >>> from graphnet.evolution.config import EvolutionConfig
    >>> resolve_batch_size(EvolutionConfig(), gn.mlp([4, 2]))
    64
    """
    if config.training.batch_size != "auto":
        return int(config.training.batch_size)
    from graphnet.train.checks import memory_aware_batch_size

    return memory_aware_batch_size(g, max_batch=1024)


def batch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order rows are visited in one epoch: a permutation fixed by the run seed and the
    epoch, so that a resumed run sees exactly the batches an uninterrupted one saw.

    >>> torch.equal(batch_order(10, 0, 3), batch_order(10, 0, 3))
    True
    """
    gen = torch.Generator().manual_seed(seed_for(seed, "batches", epoch))
    return torch.randperm(n, generator=gen)


class EpochTrainer:
    """Train one epoch (or ``steps`` steps) on ``ctx.data``'s training set.

    With ``ctx.state["monitor"]`` (an :class:`analysis.GradientMonitor`) and
    ``ctx.state["economy"]`` (an :class:`Economy`) present, gradient norms are recorded every
    ``config.spikes.every`` steps and each full window with a gradient-variance spike earns
    credits. Windows do not span epochs (the monitor restarts each epoch), so an epoch's
    credits depend on that epoch alone.
    """

    def __init__(self, loss: torch.nn.Module | None = None) -> None:
        self.loss = loss or torch.nn.CrossEntropyLoss()

    def train(self, ctx: Context, steps: int | None = None, *, monitor: bool = True) -> dict:
        data, cfg = ctx.data, ctx.config
        model, opt = ctx.model, ctx.optimizer
        mon = ctx.state.get("monitor") if monitor else None
        economy = ctx.state.get("economy") if monitor else None
        if mon is not None:
            mon.rebind(model)
        order = batch_order(data.x_train.shape[0], cfg.seed, ctx.epoch)
        bs = cfg.training.batch_size
        starts = list(range(0, order.numel(), bs))
        if steps is not None:
            starts = [starts[i % len(starts)] for i in range(steps)]
        model.train()
        total, seen, records = 0.0, 0, 0
        for i, s in enumerate(starts):
            idx = order[s : s + bs]
            opt.zero_grad(set_to_none=False)  # the monitor tells new gradients by version
            loss = self.loss(model(data.x_train[idx]), data.y_train[idx])
            if not torch.isfinite(loss.detach()):
                raise GraphError(
                    f"the loss became {float(loss)} in epoch {ctx.epoch}; lower the learning "
                    f"rate ({cfg.training.lr})"
                )
            loss.backward()
            if mon is not None and i % cfg.spikes.every == 0:
                mon.record()
                records += 1
                if economy is not None and records % mon.window == 0:
                    economy.earn(len(mon.spikes(cfg.spikes.change)) > 0)
                    mon.history.clear()
            opt.step()
            total += float(loss.detach()) * idx.numel()
            seen += idx.numel()
            if monitor:
                ctx.step += 1
        model.eval()
        return {"loss": total / max(1, seen), "steps": len(starts)}


def evaluate(ctx: Context) -> dict:
    """Accuracy of ``ctx.model``: ``train_acc``, ``test_acc`` and, when the run holds a
    validation split out of the training rows, ``val_acc``.

    Examples
    --------
    >>> import graphnet as gn
    >>> from graphnet.train.data import digits
    >>> g = gn.mlp([64, 10], density=1.0, seed=0)
    >>> ctx = Context(g, gn.compile(g), optimizer=None, data=digits(), config=None)
    >>> sorted(evaluate(ctx))
    ['test_acc', 'train_acc']
    """
    d = ctx.data
    row = {
        "train_acc": accuracy(ctx.model, d.x_train, d.y_train),
        "test_acc": accuracy(ctx.model, d.x_test, d.y_test),
    }
    if "validation" in ctx.state:
        row["val_acc"] = accuracy(ctx.model, *ctx.state["validation"])
    return row


def data_on(device: torch.device, data, validation=None):
    """``(data, validation)`` with every tensor on ``device`` (unchanged on the CPU).

    Examples
    --------
    >>> from graphnet.train.data import digits
    >>> d, v = data_on(torch.device("cpu"), digits()); d.x_train.device, v
    (device(type='cpu'), None)
    """
    if device.type == "cpu":
        return data, validation
    from graphnet.train.data import Dataset

    tensors = (data.x_train, data.y_train, data.x_test, data.y_test)
    data = Dataset(*(t.to(device) for t in tensors), data.num_classes, data.preprocessing)
    if validation is not None:
        validation = tuple(t.to(device) for t in validation)
    return data, validation
