"""Running corpus work as Dask tasks: the local scheduler, or a cluster's client.

rpkit schedules nothing itself. With no client, ``dask.compute`` runs the tasks
on Dask's local scheduler in processes on this machine; with
``client=distributed.Client(...)`` they run on that cluster. Progress is Dask's
own: ``dask.diagnostics.ProgressBar`` locally, ``distributed.progress`` on a
cluster (a bar in a terminal, a widget in a notebook). It shows when rpkit's
bars would (``rpkit.set_progress``, ``RPKIT_PROGRESS=0`` silences it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import dask
from dask.diagnostics import ProgressBar

from ..errors import RpkitError
from ..progress import showing

BYTES_PER_ITEM = 256  # about one event of a history or one message of an export


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
    input_bytes: int = 0,
) -> list[Any]:
    """``fn(*a)`` for each ``a`` in ``args``, one Dask task each, results in order.

    ``fn`` catches its own errors and returns a record; a task that dies anyway
    (a killed worker) gives ``failed(a, reason)`` on a cluster, and one that
    raised an ``RpkitError`` (which names what to do) raises it here, as the
    local scheduler does. On the local
    scheduler a dead process stops the whole run (``BrokenProcessPool``). The
    bar shows for inputs of ``input_bytes`` worth ``SHOW_FROM`` items or more.
    """
    if not args:
        return []
    show = showing(input_bytes // BYTES_PER_ITEM)
    if client is None:
        tasks = [dask.delayed(fn, pure=False)(*a) for a in args]
        with ProgressBar() if show else nullcontext():
            return list(dask.compute(*tasks, scheduler="processes"))
    return _on_cluster(fn, args, client, failed, show)


def _on_cluster(fn, args, client, failed, show: bool) -> list[Any]:
    from distributed import progress, wait

    futures = client.map(fn, *zip(*args, strict=True), pure=False)  # one message for all
    if show:
        bar = progress(futures)  # a terminal's bar returns when all is done
        if bar is not None:  # a notebook's widget shows only once displayed
            from IPython.display import display

            display(bar)
    wait(futures)
    done = [f for f in futures if f.status == "finished"]
    values = iter(client.gather(done))  # one round trip for all, not one per task
    results = []
    for a, future in zip(args, futures, strict=True):
        if future.status == "finished":
            results.append(next(values))
        else:
            exc = future.exception()
            if isinstance(exc, RpkitError):
                raise exc
            results.append(failed(a, f"{type(exc).__name__}: {exc}"))
    return results
