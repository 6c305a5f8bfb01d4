"""Running corpus work as Dask tasks: the local scheduler, or a cluster's client.

rpkit schedules nothing itself. With no client, ``dask.compute`` runs the tasks
on Dask's local scheduler in processes on this machine, with Dask's progress
bar; with ``client=distributed.Client(...)`` they run on that cluster, with
``distributed.progress``. ``rpkit.set_progress(False)`` or ``RPKIT_PROGRESS=0``
silences both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import dask

from .._progress import SHOW_FROM, _enabled


def show_progress(tasks: int) -> bool:
    """Whether to show a bar for ``tasks`` tasks (rpkit's progress setting; on from 2)."""
    return _enabled(SHOW_FROM if tasks > 1 else 0)


def compute(*objs: Any, client: Any = None, scheduler: str = "processes") -> tuple[Any, ...]:
    """``dask.compute`` on the client's cluster, or on the local scheduler."""
    if client is not None:
        return tuple(client.compute(list(objs), sync=True))
    return dask.compute(*objs, scheduler=scheduler)


def run_tasks(
    fn: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    *,
    client: Any = None,
    failed: Callable[[tuple[Any, ...], str], Any],
) -> list[Any]:
    """``fn(*a)`` for each ``a`` in ``args``, one Dask task each, results in order.

    ``fn`` catches its own errors and returns a record; a task that dies anyway
    (a killed worker) gives ``failed(a, reason)`` on a cluster. On the local
    scheduler a dead process stops the whole run (``BrokenProcessPool``).
    """
    if not args:
        return []
    show = show_progress(len(args))
    if client is None:
        tasks = [dask.delayed(fn, pure=False)(*a) for a in args]
        bar = contextlib.nullcontext()
        if show:
            from dask.diagnostics import ProgressBar

            bar = ProgressBar()
        with bar:
            return list(dask.compute(*tasks, scheduler="processes"))
    from distributed import progress, wait

    futures = [client.submit(fn, *a, pure=False) for a in args]
    if show:
        progress(futures, notebook=False)
    wait(futures)
    results = []
    for a, future in zip(args, futures, strict=True):
        if future.status == "finished":
            results.append(future.result())
        else:
            exc = future.exception()
            results.append(failed(a, f"{type(exc).__name__}: {exc}"))
    return results
