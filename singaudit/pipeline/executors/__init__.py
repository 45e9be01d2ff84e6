"""Executors run extraction's forward passes: ``local`` (this process, the default) or ``ray``
(actor pools on a Ray cluster, the optional ``singaudit[ray]`` extra)."""

from __future__ import annotations

from singaudit.pipeline.executors.base import (
    ENGINES,
    ChunkResult,
    EncodeJob,
    ExecutionConfig,
    Executor,
    ModelRecipe,
)
from singaudit.pipeline.executors.local import LocalExecutor

__all__ = ["ENGINES", "ChunkResult", "EncodeJob", "ExecutionConfig", "Executor", "LocalExecutor",
           "ModelRecipe", "local_executor", "make_executor"]

_LOCAL = LocalExecutor()


def local_executor() -> LocalExecutor:
    return _LOCAL


def make_executor(config: ExecutionConfig | None) -> Executor:
    """The executor for ``config`` (None: local); the Ray one joins or starts its cluster lazily."""
    if config is None or config.engine == "local":
        return LocalExecutor(compile=True) if config is not None and config.compile else _LOCAL
    from singaudit.pipeline.executors.ray_executor import RayExecutor

    return RayExecutor(config)
