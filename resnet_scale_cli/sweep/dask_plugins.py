"""Dask worker plugins of the executor (imported only where `distributed` is installed)."""

from __future__ import annotations

from distributed import WorkerPlugin


class NoProfiler(WorkerPlugin):
    """Stops the worker's statistical profiler, on every worker of the cluster, restarted ones too.

    The profiler samples the running task's frames every 10 ms and holds them for a moment, which
    keeps their tensors alive a little longer than the task's code does: the CPU memory count of
    `rscale adjoint` (tensor storages held at once) would then depend on timing.
    """

    name = "rscale-no-profiler"

    def setup(self, worker) -> None:
        for key in ("profile", "profile-cycle"):
            callback = worker.periodic_callbacks.pop(key, None)
            if callback is not None:
                callback.stop()
