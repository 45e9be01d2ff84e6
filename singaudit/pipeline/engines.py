"""Execution engines: where forward passes run, by name (``execution.engine`` in a spec), and the
one ``ExecutionConfig`` the spec validates and the executors read. Importing this module imports
no torch, so that validating a spec stays light.

``EXECUTORS`` maps an engine name to a factory ``(config) -> Executor``, registered lazily like
the sources: ``local`` (this process, the default) and ``ray`` (actor pools on a Ray cluster, the
optional ``singaudit[ray]`` extra).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from singaudit.registry import Registry

EXECUTORS: Registry = Registry("execution engine")
EXECUTORS.add("local", "singaudit.pipeline.executors:local_from_config")
EXECUTORS.add("ray", "singaudit.pipeline.executors.ray_executor:RayExecutor")


class ExecutionConfig(BaseModel):
    """Where forward passes run. ``local``: this process (the default). ``ray``: actor pools on a
    Ray cluster (``address``; none: a cluster this process joined, else a new local one).
    Results and cache entries do not depend on the engine."""

    model_config = ConfigDict(extra="forbid")

    engine: str = Field("local", json_schema_extra=lambda schema: schema.update(
        enum=list[JsonValue](EXECUTORS.names())))  # a name in EXECUTORS (the schema lists them)
    address: str | None = None  # e.g. ray://head:10001 or auto
    workers: Annotated[int, Field(gt=0, le=4096)] = 2  # actors per model
    cpus_per_worker: Annotated[float, Field(gt=0)] = 1.0  # also each actor's torch threads
    gpus_per_worker: Annotated[float, Field(ge=0)] = 0.0  # > 0: actors use CUDA where present
    batch_size: Annotated[int, Field(gt=0)] | None = None  # None: the spec's batch_size
    compile: bool = False  # torch.compile the forward pass (engine: local); features keyed apart

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, engine: str) -> str:
        if engine not in EXECUTORS:
            raise ValueError(f"unknown execution engine {engine!r}; available: "
                             f"{', '.join(EXECUTORS.names())}")
        return engine

    @model_validator(mode="after")
    def _ray_only(self) -> ExecutionConfig:
        if self.engine == "local" and (self.address is not None or self.gpus_per_worker > 0):
            raise ValueError("address and gpus_per_worker apply only to engine: ray")
        if self.engine == "ray" and self.compile:
            raise ValueError("compile applies only to engine: local")
        return self
