"""Execution engines: where forward passes run, by name (``execution.engine`` in a spec), and the
one ``ExecutionConfig`` the spec holds and the executors read. Importing this module imports no
torch, so that validating a spec stays light.

``EXECUTORS`` maps an engine name to an ``Engine``: how to make its executor (a lazy
``"module:factory"``, ``factory(config) -> Executor``) and which options of ``ExecutionConfig``
it reads. Built in: ``local`` (this process, the default) and ``ray`` (actor pools on a Ray
cluster, the optional ``singaudit[ray]`` extra); other packages add engines through the
``singaudit.executors`` entry-point group (an ``Engine``, or a bare factory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, JsonValue

from singaudit.registry import Registry, RegistryError, load_object
from singaudit.strict import Strict

ENTRY_POINT_GROUP = "singaudit.executors"


@dataclass(frozen=True)
class Engine:
    """An execution engine: ``executor`` makes its executor from the config (an object or a lazy
    ``"module:factory"`` reference, imported only when a run needs it); ``options`` are the
    engine-specific fields of ``ExecutionConfig`` it reads (another engine's are refused);
    ``sizing`` the fields it reads that another engine may ignore (a spec written for a cluster
    still runs with ``--engine local``); ``prefetch``: extract every model's rows at once (engines that run them concurrently)."""

    executor: Callable[[ExecutionConfig], Any] | str
    options: frozenset[str] = frozenset()
    sizing: frozenset[str] = frozenset()
    prefetch: bool = False

    def __call__(self, config: ExecutionConfig) -> Any:
        factory = load_object(self.executor) if isinstance(self.executor, str) else self.executor
        if not callable(factory):
            raise RegistryError(f"{self.executor!r} is not an executor factory")
        return factory(config)


EXECUTORS: Registry[Engine | Callable[[ExecutionConfig], Any]] = Registry("execution engine")
EXECUTORS.add("local", Engine("singaudit.pipeline.executors:local_from_config",
                              options=frozenset({"compile"})))
EXECUTORS.add("ray", Engine("singaudit.pipeline.executors.ray_executor:RayExecutor",
                            options=frozenset({"address", "gpus_per_worker"}),
                            sizing=frozenset({"workers", "cpus_per_worker"}), prefetch=True))
EXECUTORS.add_entry_points(ENTRY_POINT_GROUP)


def get_engine(name: str) -> Engine:
    """The Engine registered as ``name`` (a bare factory reads no engine-specific option);
    RegistryError when there is none or it cannot be imported."""
    entry = EXECUTORS.get(name)
    if isinstance(entry, Engine):
        return entry
    if callable(entry):
        return Engine(entry)
    raise RegistryError(f"execution engine {name!r} is neither an Engine nor a factory")


class ExecutionConfig(Strict):
    """Where forward passes run. ``local``: this process (the default). ``ray``: actor pools on a
    Ray cluster (``address``; none: a cluster this process joined, else a new local one).
    Results and cache entries do not depend on the engine. Which engine exists and which
    options it reads is the runner's plan to check (against ``EXECUTORS``)."""

    engine: str = Field("local", json_schema_extra=lambda schema: schema.update(
        enum=list[JsonValue](EXECUTORS.names())))  # a name in EXECUTORS (the schema lists them)
    address: str | None = None  # e.g. ray://head:10001 or auto
    workers: Annotated[int, Field(gt=0, le=4096)] = 2  # actors per model
    cpus_per_worker: Annotated[float, Field(gt=0)] = 1.0  # also each actor's torch threads
    gpus_per_worker: Annotated[float, Field(ge=0)] = 0.0  # > 0: actors use CUDA where present
    batch_size: Annotated[int, Field(gt=0)] | None = None  # None: the spec's batch_size
    compile: bool = False  # torch.compile the forward pass (engine: local); features keyed apart


def misplaced_options(config: ExecutionConfig) -> str | None:
    """Why ``config`` sets options its engine does not read (another engine's), or None:
    e.g. "address and gpus_per_worker apply only to engine: ray"."""
    engine = get_engine(config.engine)
    readers: dict[str, list[str]] = {}
    refused: set[str] = set()  # options some engine owns (sizing ones are ignored elsewhere)
    for name in EXECUTORS.names():
        try:
            other = get_engine(name)
        except RegistryError:
            continue  # an engine that cannot import reads nothing here
        refused |= other.options
        for option in other.options | other.sizing:
            readers.setdefault(option, []).append(name)
    defaults = ExecutionConfig()
    foreign = [option for option in ExecutionConfig.model_fields
               if option in refused and option not in engine.options | engine.sizing
               and getattr(config, option) != getattr(defaults, option)]
    if not foreign:
        return None
    engines = sorted({name for option in foreign for name in readers[option]})
    verb = "can apply" if len(foreign) == 1 else "apply"
    return f"{' and '.join(foreign)} {verb} only to engine: {' or '.join(engines)}"
