"""Running corpus work as Dask tasks: the local scheduler, or a cluster's client.

rpkit schedules nothing itself. With no client, ``dask.compute`` runs the tasks
on Dask's local scheduler in processes on this machine; with
``client=distributed.Client(...)`` they run on that cluster. Progress is
rpkit's ``tqdm`` bar (``rpkit.progress``), advanced as Dask reports each task
done (a ``dask.callbacks.Callback`` locally, ``distributed.as_completed`` on a
cluster); ``rpkit.set_progress(False)`` or ``RPKIT_PROGRESS=0`` silences it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import dask
from dask.callbacks import Callback

from ..progress import progress_bar

BYTES_PER_ITEM = 256  # about one event of a history or one message of an export


def compute(*objs: Any, client: Any = None, scheduler: str = "processes") -> tuple[Any, ...]:
    """``dask.compute`` on the client's cluster, or on the local scheduler."""
    if client is not None:
        return tuple(client.compute(list(objs), sync=True))
    return dask.compute(*objs, scheduler=scheduler)


class _Ticks(Callback):
    """Advances a bar by one for each task the local scheduler finishes."""

    def __init__(self, bar: Any, keys: set[Any]):
        super().__init__()
        self.bar, self.keys = bar, keys

    def _posttask(self, key, result, dsk, state, worker_id) -> None:
        if key in self.keys:
            self.bar.update(1)


def run_tasks(
    fn: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    *,
    client: Any = None,
    failed: Callable[[tuple[Any, ...], str], Any],
    input_bytes: int = 0,
    desc: str = "corpus",
) -> list[Any]:
    """``fn(*a)`` for each ``a`` in ``args``, one Dask task each, results in order.

    ``fn`` catches its own errors and returns a record; a task that dies anyway
    (a killed worker) gives ``failed(a, reason)`` on a cluster. On the local
    scheduler a dead process stops the whole run (``BrokenProcessPool``). The
    bar shows for inputs of ``input_bytes`` worth ``SHOW_FROM`` items or more.
    """
    if not args:
        return []
    with progress_bar(input_bytes // BYTES_PER_ITEM, desc, unit="task") as bar:
        if bar is not None:
            bar.reset(total=len(args))
        if client is None:
            tasks = [dask.delayed(fn, pure=False)(*a) for a in args]
            keys = {t.key for t in tasks}
            if bar is None:
                return list(dask.compute(*tasks, scheduler="processes"))
            with _Ticks(bar, keys):
                return list(dask.compute(*tasks, scheduler="processes"))
        return _on_cluster(fn, args, client, failed, bar)


def _on_cluster(fn, args, client, failed, bar) -> list[Any]:
    from distributed import as_completed

    futures = [client.submit(fn, *a, pure=False) for a in args]
    for _ in as_completed(futures):
        if bar is not None:
            bar.update(1)
    results = []
    for a, future in zip(args, futures, strict=True):
        if future.status == "finished":
            results.append(future.result())
        else:
            exc = future.exception()
            results.append(failed(a, f"{type(exc).__name__}: {exc}"))
    return results
