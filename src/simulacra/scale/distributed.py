"""Parts of a sample written in parallel: in this process, or as Ray tasks on this machine or a cluster.

:func:`sample_parts` writes the parts of :func:`~simulacra.scale.stream.part_ranges` into a folder.
Without ``workers`` this process writes them one after the other; with ``workers=K`` each part is a
Ray task (Moritz et al., "Ray: A Distributed Framework for Emerging AI Applications", OSDI 2018) that
loads the saved model and writes its own Parquet file, at most ``K`` at a time. A part's rows depend
only on ``(rows, seed, part_rows)`` (:mod:`simulacra.scale.blocks`), so the folder's files are the
same, byte for byte, for every ``K`` and for the in-process path.

Ray is an optional extra (``pip install 'simulacra[ray]'``). With no ``address`` a local Ray instance
with ``K`` CPUs is started and stopped again; with ``address`` (``ray://head:10001`` or ``auto``)
the tasks run on that cluster, and then the model folder and the output folder must be on storage
every node sees (NFS, a shared volume) at the same path.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulacra.errors import ConfigError
from simulacra.scale.blocks import CHUNK_ROWS
from simulacra.scale.stream import SampleOptions, Written, part_ranges, write_part
from simulacra.validation import Integer, check_value

#: Object-store memory of a local Ray instance: parts are written by the tasks themselves, so the store
#: only carries small results.
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2


def require_ray() -> Any:
    """The ``ray`` module.

    Raises
    ------
    ConfigError
        Ray is not installed (the message says how to install the extra).
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "`workers` runs Ray tasks, and Ray is not installed; pip install 'simulacra[ray]' "
            "(or leave out `workers`)"
        ) from None
    return ray


def check_workers(workers: Any, command: str = "sample") -> int:
    """``workers`` (``command``'s ``--workers``) checked: an integer in ``[1, 1024]``.

    Raises
    ------
    ConfigError
        Anything else.
    """
    return check_value(command, "`workers`", workers, Integer(ge=1, le=1024))


class RaySession:
    """A context manager that connects to Ray: a local instance with ``cpus`` CPUs (default
    ``workers``; stopped at the end), or the cluster at ``address``; an already connected driver is
    reused and left connected.

    Raises
    ------
    ConfigError
        Ray missing, or the cluster at ``address`` cannot be reached.
    """

    def __init__(self, workers: int, address: str | None = None, cpus: int | None = None) -> None:
        self.ray = require_ray()
        self.workers = check_workers(workers)
        self.cpus = self.workers if cpus is None else int(cpus)
        self.address = address
        self._started = False

    def __enter__(self) -> Any:
        ray = self.ray
        if ray.is_initialized():
            return ray
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": "ERROR",
            "configure_logging": True,
            # the workers import simulacra from the same environment as this process
            "runtime_env": {"env_vars": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}},
        }
        try:
            with warnings.catch_warnings():  # the failure is reported once, as our one error line
                warnings.simplefilter("ignore")
                if self.address:
                    ray.init(address=self.address, **options)
                else:
                    ray.init(num_cpus=self.cpus, object_store_memory=LOCAL_OBJECT_STORE_BYTES, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local instance"
            raise ConfigError(
                f"cannot start or reach Ray ({where}): {' '.join(str(exc).split())[:200]}; "
                "check `ray_address`, or leave it out for a local instance"
            ) from None
        self._started = True
        return ray

    def __exit__(self, *exc: Any) -> None:
        if self._started:
            self.ray.shutdown()


_MODELS: dict[tuple[str, float], Any] = {}


def load_once(model_dir: str) -> Any:
    """The saved model, loaded once per worker process (keyed by folder and modification time)."""
    from simulacra.synthesizers import BaseSynthesizer

    key = (str(Path(model_dir).resolve()), Path(model_dir).stat().st_mtime)
    if key not in _MODELS:
        _MODELS.clear()
        _MODELS[key] = BaseSynthesizer.load(model_dir)
    return _MODELS[key]


def _part_task(
    model_dir: str,
    rows: int,
    folder: str,
    index: int,
    start: int,
    stop: int,
    options: SampleOptions,
    chunk_rows: int,
    count_column: str | None,
) -> Written:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one core per task: K tasks on K cores, no oversubscription
        try:
            import torch

            torch.set_num_threads(1)
        except ImportError:  # pragma: no cover - torch is a dependency
            pass
        return write_part(
            load_once(model_dir),
            rows,
            folder,
            index,
            start,
            stop,
            options,
            chunk_rows=chunk_rows,
            count_column=count_column,
        )


def sample_parts(
    model_dir: str | os.PathLike[str],
    rows: int,
    folder: str | os.PathLike[str],
    options: SampleOptions,
    *,
    part_rows: int,
    chunk_rows: int = CHUNK_ROWS,
    workers: int | None = None,
    address: str | None = None,
    count_column: str | None = None,
    model: Any = None,
    on_rows: Callable[[int], None] | None = None,
) -> Written:
    """Write every part of a ``rows``-row request into ``folder`` (an existing empty folder, normally
    the temporary one of :func:`~simulacra.workflow.output_folder`).

    Parameters
    ----------
    model_dir : path-like
        The saved model (Ray tasks load it; must be visible to every node of a cluster).
    rows : int
        Rows of the request (with ``options.counts``: their sum).
    folder : path-like
        Where ``part-NNNNN.parquet`` files go.
    options : SampleOptions
    part_rows, chunk_rows : int
        Rows per part (file, task) and per chunk (row group).
    workers : int, optional
        ``None``: this process writes the parts in order (``model``, if given, is used instead of
        loading ``model_dir``). ``K``: Ray tasks, at most ``K`` at a time.
    address : str, optional
        A Ray cluster address; ``None`` starts a local instance with ``workers`` CPUs.
    count_column : str, optional
        Count rows per class of this column.
    on_rows : callable, optional
        Progress: called with the rows of each finished chunk (in-process) or part (Ray).

    Returns
    -------
    Written
        Rows, classes, and ``where`` = the folder.

    Raises
    ------
    ConfigError
        Ray missing or unreachable, bad sizes. Errors of a task are raised here, the first one.
    """
    parts = part_ranges(rows if options.counts is None else sum(options.counts.values()), part_rows)
    total = Written(where=str(folder))
    if workers is None:
        from simulacra.synthesizers import BaseSynthesizer

        model = model if model is not None else BaseSynthesizer.load(model_dir)
        for i, (start, stop) in enumerate(parts):
            total.add(
                write_part(
                    model,
                    rows,
                    folder,
                    i,
                    start,
                    stop,
                    options,
                    chunk_rows=chunk_rows,
                    count_column=count_column,
                    on_rows=on_rows,
                )
            )
        return total
    jobs = [
        (str(model_dir), rows, str(folder), i, start, stop, options, chunk_rows, count_column)
        for i, (start, stop) in enumerate(parts)
    ]

    def done(_: int, part: Written) -> None:
        total.add(part)
        if on_rows is not None:
            on_rows(part.rows)

    run_tasks(_part_task, jobs, workers=workers, address=address, on_done=done)
    return total


def run_tasks(
    fn: Callable[..., Any],
    jobs: list[tuple[Any, ...]],
    *,
    workers: int,
    address: str | None = None,
    fresh_process: bool = False,
    on_done: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """``[fn(*job) for job in jobs]`` as Ray tasks of one CPU each, at most ``workers`` at a time.

    Parameters
    ----------
    fn : callable
        A module-level function (Ray pickles it by reference; its module must be importable by the
        workers).
    jobs : list of tuple
        The arguments of each call.
    workers : int
        Most tasks in flight.
    address : str, optional
        A Ray cluster; ``None`` starts a local instance with ``workers`` CPUs (see :class:`RaySession`).
    fresh_process : bool
        Run every task in a new worker process (Ray's ``max_calls=1``), so that a per-process
        measurement such as the peak RSS belongs to that task alone.
    on_done : callable ``(job_index, result) -> None``, optional
        Called as each task finishes, in completion order.

    Returns
    -------
    list
        The results, in the order of ``jobs``.

    Raises
    ------
    ConfigError
        Ray missing or unreachable. The first error of a task is raised here as its original type
        (a ``ConditionError`` stays one); the tasks still running are cancelled.
    """
    results: dict[int, Any] = {}
    with RaySession(workers, address) as ray:
        options: dict[str, Any] = {"num_cpus": 1, "max_retries": 0}
        if fresh_process:
            options["max_calls"] = 1
        task = ray.remote(**options)(fn)
        pending: dict[Any, int] = {}
        queue = list(enumerate(jobs))
        while queue or pending:
            while queue and len(pending) < workers:
                i, job = queue.pop(0)
                pending[task.remote(*job)] = i
            finished, _ = ray.wait(list(pending), num_returns=1)
            for ref in finished:
                i = pending.pop(ref)
                try:
                    results[i] = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    for other in pending:
                        ray.cancel(other, force=True)
                    raise exc.as_instanceof_cause() from None
                if on_done is not None:
                    on_done(i, results[i])
    return [results[i] for i in range(len(jobs))]


def check_ray_options(workers: int | None, ray_address: str | None, command: str) -> int | None:
    """``command``'s ``--workers``/``--ray-address`` checked before any work: an integer in [1, 1024],
    Ray installed, and no address without workers. Returns the worker count, or ``None``.

    Raises
    ------
    ConfigError
        A bad count, Ray missing (with the install hint), or ``--ray-address`` alone.
    """
    if workers is None:
        if ray_address is not None:
            raise ConfigError("`ray_address` is where `workers` run; add `workers` K")
        return None
    workers = check_workers(workers, command)
    require_ray()
    return workers
