"""Data-parallel training of one graph on several processes with ``torch.distributed``.

Every process (rank) compiles the same graph, wraps the module in
:class:`torch.nn.parallel.DistributedDataParallel` and trains on its shard of every global
batch; DDP averages the gradients, so the ranks take the same optimizer step as one process
training on the whole batch (:func:`graphnet.train.fit_classifier`, to float tolerance).
Backends: gloo on CPU, NCCL (one GPU per rank) when CUDA is available.
"""

from __future__ import annotations

import datetime
import inspect
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import torch

from compilers import compile as compile_graph
from compilers import sync
from compilers.module import MODES
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

from .classifier import accuracy, check_trainable
from .data import Dataset, check_batch

__all__ = ["fit_distributed"]

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
BACKENDS = ("gloo", "nccl")


def fit_distributed(
    g: NeuronGraph,
    data: Dataset,
    *,
    world_size: int = 2,
    epochs: int = 5,
    lr: float = 0.01,
    batch_size: int = 64,
    seed: int = 0,
    backend: str | None = None,
    optimizer: str = "adam",
    mode: str = "auto",
    timeout: float = 300.0,
) -> tuple[NeuronGraph, list[dict]]:
    """Train ``g`` on ``data`` with cross-entropy on ``world_size`` processes (DDP).

    Every epoch, each rank draws the same seeded permutation of the training rows as
    :func:`~graphnet.train.fit_classifier` and cuts it into the same global batches of
    ``batch_size`` rows; rank ``r`` trains on the ``r``-th of ``world_size`` contiguous
    shards of each batch. The last, short batch is kept and split as evenly as it goes (a
    shard may be empty); each rank's loss is the sum of its rows' cross-entropies divided by
    ``rows in the batch / world_size`` (the mean over the shard for full batches), so the
    gradient DDP averages over the ranks is that of the mean over the global batch, and the
    run matches ``fit_classifier`` (Adam) with the same arguments to float tolerance.

    Parameters
    ----------
    g : NeuronGraph
        The network; left unchanged (the trained weights go onto a copy).
    data : Dataset
        Training and test tensors (e.g. :func:`~graphnet.train.digits`).
    world_size : int, default 2
        Number of processes.
    epochs, lr, batch_size, seed
        As in :func:`~graphnet.train.fit_classifier`; ``batch_size`` is the global batch and
        must be a multiple of ``world_size``.
    backend : {"gloo", "nccl"}, optional
        ``torch.distributed`` backend; by default NCCL when CUDA is available, else gloo.
        With NCCL rank ``r`` runs on ``cuda:r``.
    optimizer : {"adam", "sgd"}, default "adam"
        The optimizer every rank steps with ``lr``.
    mode : str, default "auto"
        Compile mode (see :func:`compilers.compile`).
    timeout : float, default 300.0
        Seconds a rank waits for its peers (start-up, gradient all-reduce) before it fails;
        a rank that fails or dies stops the others at once.

    Returns
    -------
    NeuronGraph
        A copy of ``g`` holding the trained weights and biases (rank 0's model, synced).
    list of dict
        One dict per epoch: ``epoch``, ``loss`` (mean training loss over all ranks),
        ``train_acc`` and ``test_acc`` (measured on rank 0).

    Raises
    ------
    GraphError
        If ``world_size < 1``, ``batch_size`` is not a positive multiple of ``world_size``,
        the backend or optimizer is unknown or unavailable, the data do not fit the graph,
        or a worker fails (its error message is quoted).

    Examples
    --------
    >>> import graphnet as gn
    >>> from graphnet.train.data import digits
    >>> g = gn.mlp([64, 16, 10], density=0.3, seed=0)
    >>> trained, history = fit_distributed(g, digits(), world_size=2, epochs=2)
    >>> [sorted(row) for row in history][0]
    ['epoch', 'loss', 'test_acc', 'train_acc']
    >>> history[-1]["loss"] < history[0]["loss"], history[-1]["test_acc"] > 0.5
    (True, True)

    Notes
    -----
    The workers are started with the ``spawn`` method: they re-import the script that called
    this function, so a script must call it under ``if __name__ == "__main__":``. Each worker
    uses one CPU thread; the rendezvous is on ``127.0.0.1`` at a free port chosen at run time.
    """
    backend = _check_arguments(
        g, data, world_size, epochs, batch_size, backend, optimizer, mode, timeout
    )
    config = {
        "world_size": world_size,
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "seed": seed,
        "backend": backend,
        "optimizer": optimizer,
        "mode": mode,
        "timeout": timeout,
        "port": _free_port(),
    }
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory(prefix="graphnet-ddp-") as tmp:
        ctx = mp.spawn(_worker, args=(g, data, config, tmp), nprocs=world_size, join=False)
        try:
            while not ctx.join():
                pass
        except (mp.ProcessRaisedException, mp.ProcessExitedException) as err:
            if not _all_finished(Path(tmp), world_size):
                raise GraphError(_failure(err, Path(tmp))) from None
            # every rank had finished its work and rank 0 had saved the result: a crash in
            # the backend's teardown after that (gloo's threads at exit) loses nothing
        finally:
            for p in ctx.processes:  # only left alive if the parent itself was interrupted
                if p.is_alive():
                    p.kill()
        result = Path(tmp) / "result.pt"
        if not result.exists():
            raise GraphError("distributed training ended without a result from rank 0")
        out = torch.load(result, weights_only=False)
    return out["graph"], out["history"]


def _check_arguments(
    g, data, world_size, epochs, batch_size, backend, optimizer, mode, timeout
) -> str:
    if world_size < 1:
        raise GraphError(f"world_size must be at least 1, got {world_size}")
    if batch_size < 1 or batch_size % world_size:
        raise GraphError(
            f"batch_size must be a positive multiple of world_size ({world_size}), got {batch_size}"
        )
    if epochs < 0:
        raise GraphError(f"epochs must be >= 0, got {epochs}")
    if not timeout > 0:
        raise GraphError(f"timeout must be positive, got {timeout}")
    if optimizer not in OPTIMIZERS:
        raise GraphError(
            f"unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZERS)}"
        )
    if mode not in MODES:
        raise GraphError(f"unknown compile mode {mode!r}; expected one of {', '.join(MODES)}")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend not in BACKENDS:
        raise GraphError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "nccl" and torch.cuda.device_count() < world_size:
        raise GraphError(
            f"the nccl backend needs one GPU per process: {world_size} processes, "
            f"{torch.cuda.device_count()} GPUs"
        )
    check_trainable(g)
    if len(g.outputs) != data.num_classes:
        raise GraphError(f"the graph has {len(g.outputs)} outputs for {data.num_classes} classes")
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        check_batch(x, y, len(g.inputs), data.num_classes)
    return backend


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _all_finished(tmp: Path, world_size: int) -> bool:
    return (tmp / "result.pt").exists() and all(
        (tmp / f"finished_{rank}").exists() for rank in range(world_size)
    )


def _failure(err: Exception, tmp: Path) -> str:
    """An account of a failed run: the error a worker raised first (its peers then fail on the
    closed connection), else how ``torch.multiprocessing`` saw a worker end."""
    reports = []
    for path in tmp.glob("error_*.txt"):
        when, text = path.read_text().split("\n", 1)
        reports.append((int(when), int(path.stem.split("_")[1]), text))
    if reports:
        _, rank, text = min(reports)
        return f"distributed worker {rank} failed: {text}"
    rank = getattr(err, "error_index", "?")
    if getattr(err, "signal_name", None):
        return f"distributed worker {rank} was killed by {err.signal_name}"
    how = f"distributed worker {rank} exited with code {getattr(err, 'exit_code', '?')}"
    if not (tmp / f"started_{rank}").exists():
        how += (
            " while starting; a script calling fit_distributed must do so under "
            '`if __name__ == "__main__":` (workers are spawned and re-import it)'
        )
    return how


def _no_buffer_sync() -> dict:
    """DDP keyword that stops the per-step broadcast of buffers: they hold the graph's
    structure, the same on every rank (``broadcast_buffers`` is deprecated in newer torch)."""
    from torch.nn.parallel import DistributedDataParallel

    names = inspect.signature(DistributedDataParallel.__init__).parameters
    return {
        "forward_sync_buffers" if "forward_sync_buffers" in names else "broadcast_buffers": False
    }


def _worker(rank: int, g: NeuronGraph, data: Dataset, config: dict, tmp: str) -> None:
    torch.set_num_threads(1)
    (Path(tmp) / f"started_{rank}").touch()
    try:
        _train_rank(rank, g, data, config, Path(tmp))
    except Exception as err:  # reported to the parent, then re-raised: nothing is swallowed
        report = f"{time.time_ns()}\n{type(err).__name__}: {err}"
        (Path(tmp) / f"error_{rank}.txt").write_text(report)
        raise
    (Path(tmp) / f"finished_{rank}").touch()
    # Leave without the interpreter's teardown: gloo's background threads can abort the
    # process there (now and then, after the process group was destroyed), and a finished
    # worker has nothing left to clean up.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _train_rank(rank: int, g: NeuronGraph, data: Dataset, c: dict, tmp: Path) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    world = c["world_size"]
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(c["port"])
    timeout = datetime.timedelta(seconds=c["timeout"])
    dist.init_process_group(c["backend"], rank=rank, world_size=world, timeout=timeout)
    try:
        cuda = c["backend"] == "nccl"
        device = torch.device("cuda", rank) if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(device)
        torch.manual_seed(c["seed"])
        module = compile_graph(g, c["mode"], device=device)
        model = DistributedDataParallel(
            module, device_ids=[rank] if cuda else None, **_no_buffer_sync()
        )
        opt = OPTIMIZERS[c["optimizer"]](model.parameters(), lr=c["lr"])
        lossf = torch.nn.CrossEntropyLoss(reduction="sum")
        x_train, y_train = data.x_train.to(device), data.y_train.to(device)
        n, bs = x_train.shape[0], c["batch_size"]
        gen = torch.Generator().manual_seed(c["seed"])
        history = []
        for epoch in range(c["epochs"]):
            model.train()
            order = torch.randperm(n, generator=gen)
            total = torch.zeros((), dtype=torch.float64, device=device)
            for i in range(0, n, bs):
                batch = order[i : i + bs]
                m = batch.numel()
                idx = batch[rank * m // world : (rank + 1) * m // world].to(device)
                opt.zero_grad()
                loss = lossf(model(x_train[idx]), y_train[idx]) / (m / world)
                if not torch.isfinite(loss.detach()):
                    raise GraphError(
                        f"the loss became {float(loss)} in epoch {epoch} on rank {rank}; "
                        f"lower the learning rate ({c['lr']})"
                    )
                loss.backward()
                opt.step()
                total += loss.detach().double() * (m / world)
            dist.all_reduce(total)
            if rank == 0:
                module.eval()
                history.append(
                    {
                        "epoch": epoch,
                        "loss": float(total) / n,
                        "train_acc": accuracy(module, x_train, y_train),
                        "test_acc": accuracy(
                            module, data.x_test.to(device), data.y_test.to(device)
                        ),
                    }
                )
        if rank == 0:
            sync(g, module)  # g is this worker's own (unpickled) copy of the caller's graph
            torch.save({"graph": g, "history": history}, tmp / "result.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()
