"""Executors run extraction's forward passes: ``local`` (this process, the default) or ``ray``
(actor pools on a Ray cluster, the optional ``singaudit[ray]`` extra)."""

from __future__ import annotations

from singaudit.pipeline.engines import EXECUTORS, ExecutionConfig
from singaudit.pipeline.executors.base import ChunkResult, EncodeJob, Executor, ModelRecipe
from singaudit.pipeline.executors.local import LocalExecutor

__all__ = ["EXECUTORS", "ChunkResult", "EncodeJob", "ExecutionConfig", "Executor",
           "LocalExecutor", "ModelRecipe", "local_executor", "local_from_config", "make_executor"]

_LOCAL = LocalExecutor()


def local_executor() -> LocalExecutor:
    return _LOCAL


def local_from_config(config: ExecutionConfig) -> LocalExecutor:
    """The ``local`` engine: this process (a compiling executor of its own when asked)."""
    return LocalExecutor(compile=True) if config.compile else _LOCAL


def make_executor(config: ExecutionConfig | None) -> Executor:
    """The executor of ``config``'s engine (None: local); the Ray one joins or starts its cluster
    lazily."""
    config = config if config is not None else ExecutionConfig()
    executor: Executor = EXECUTORS.get(config.engine)(config)
    return executor
