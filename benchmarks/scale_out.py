"""Scale-out: images/s of the local executor and of Ray with 1 and 2 workers, in one run.

A synthetic workload where forward passes dominate: in-memory 64x64 images (decoding is nearly
free) through a small conv net (about 0.3 GFLOP per image), one torch thread per executor or
worker. A local Ray cluster is started first (its start-up time is printed, not counted); each
Ray figure includes starting its actor pool, loading the model in each actor and shipping the
rows back; Ray Data's helper actors (statistics, autoscaling coordinator), started once per
cluster by its first dataset, are timed apart like the cluster start. The local executor runs
before and after the Ray runs and its two times are averaged, so a change in the machine's load
during the run is visible and evened out. CPU seconds per process kind are printed per run.

Prints images/s, the 2-worker speed-up over local (target >= 1.7 on 2 cores) and Ray's overhead
at 1 worker (local images/s over Ray's; target <= 1.25), with the load average before and after,
and each run's time to its first finished chunk (for Ray: starting the actors, a fixed cost of a
few seconds per run that larger workloads amortise). Each run starts once the previous run's
actors have exited.
Run: ``python benchmarks/scale_out.py [--images 32768] [--batch-size 32] [--width 64]
[--write-docs]`` (``--write-docs``: this run replaces the script's section of
docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections import defaultdict

import numpy as np
import torch
from _tables import add_write_docs, markdown_table, write_docs
from PIL import Image
from torch import nn

from singaudit.adapters.classifiers.base import Preprocessing
from singaudit.adapters.data.base import ImageRecord, ImageSource
from singaudit.adapters.sources import load_classifier
from singaudit.pipeline.executors import ExecutionConfig, make_executor
from singaudit.pipeline.executors.ray_executor import connect
from singaudit.pipeline.features import extract


class SyntheticImages(ImageSource):
    """Seeded noise images held in memory: loading costs microseconds, not milliseconds."""

    def __init__(self, count: int, size: int = 64) -> None:
        self.id = f"synthetic:{count}"
        self.class_names = ["noise"]
        rng = np.random.default_rng(0)
        self.pixels = rng.integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)
        self._records = [ImageRecord(f"synthetic/{i}", 0) for i in range(count)]

    def records(self) -> list[ImageRecord]:
        return list(self._records)

    def load(self, record: ImageRecord) -> Image.Image:
        return Image.fromarray(self.pixels[int(record.key.rsplit("/", 1)[1])])

    def content_hash(self, record: ImageRecord) -> str:
        return record.key


def to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def conv_classifier(width: int):
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10),
    )
    return load_classifier("hook:scale-out", module=module, head="6",
                           preprocessing=Preprocessing(to_tensor, "to_tensor,64x64"))


class ProcessCpu:
    """CPU seconds (user, system) per process kind, for this process and its descendants (a
    local Ray cluster's services and workers), sampled twice a second so that actors which end
    with their dataset are counted too."""

    def __init__(self, interval: float = 0.5) -> None:
        import psutil  # a dependency of ray

        self.psutil, self.interval, self.me = psutil, interval, psutil.Process()
        self.seen: dict[int, tuple[str, float, float]] = {}  # pid -> (kind, user, system)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True, name="cpu-sampler").start()

    def _kind(self, process) -> str:
        if process.pid == self.me.pid:
            return "driver"
        command = process.cmdline()
        head = command[0] if command else process.name()
        if head.startswith("ray::"):  # a worker's title: ray::IDLE, ray::MapWorker(...), ...
            return head.split("(")[0].replace("ray::", "ray ")
        if "default_worker.py" in " ".join(command):
            return "ray worker (starting)"
        for name in ("raylet", "gcs_server", "dashboard", "log_monitor", "monitor.py",
                     "runtime_env", "agent"):
            if name in os.path.basename(head) or name in " ".join(command[1:2]):
                return name
        return os.path.basename(head)[:24]

    def sample(self) -> None:
        try:
            processes = [self.me, *self.me.children(recursive=True)]
        except self.psutil.Error:
            return
        for process in processes:
            try:
                times = process.cpu_times()
                with self.lock:
                    # a worker's title changes when it becomes an actor: the latest one counts
                    self.seen[process.pid] = (self._kind(process), times.user, times.system)
            except self.psutil.Error:
                continue

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            self.sample()

    def snapshot(self) -> dict[int, tuple[str, float, float]]:
        self.sample()
        with self.lock:
            return dict(self.seen)

    @staticmethod
    def spent(before, after) -> dict[str, tuple[float, float, int]]:
        """(user, system) seconds and the number of busy processes per kind between two
        snapshots."""
        totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
        for pid, (kind, user, system) in after.items():
            _, user0, system0 = before.get(pid, (kind, 0.0, 0.0))
            if user - user0 + system - system0 >= 0.05:
                totals[kind][0] += user - user0
                totals[kind][1] += system - system0
                totals[kind][2] += 1
        return {kind: (u, s, int(n)) for kind, (u, s, n) in totals.items()}


class FirstChunk:
    """An executor that passes another's chunks on and notes when the first arrived: the time
    to start the actors and compute one chunk (locally: one chunk with the warm-up)."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.arrival = inner, inner.name, None

    def encode_chunks(self, job):
        for chunk in self.inner.encode_chunks(job):
            self.arrival = self.arrival or time.perf_counter()
            yield chunk

    def ridge_statistics(self, x, y, chunk_size):
        return self.inner.ridge_statistics(x, y, chunk_size)


def images_per_second(classifier, source, batch_size: int, config: ExecutionConfig | None):
    """(images/s, seconds, seconds to the first chunk, rows)."""
    executor = FirstChunk(make_executor(config))
    start = time.perf_counter()
    result = extract(classifier, source, cache=None, batch_size=batch_size, progress=False,
                     executor=executor)
    seconds = time.perf_counter() - start
    assert result.values.shape[0] == len(source.records())
    return len(source.records()) / seconds, seconds, executor.arrival - start, result.values


def wait_for_actors_to_exit(timeout: float = 30.0) -> None:
    """Ray ends a finished dataset's actors in the background (each spends about a CPU second
    exiting): the next run starts once they are gone, so that no run pays for another's."""
    import psutil

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        titles = []
        for process in psutil.Process().children(recursive=True):
            try:
                titles.append(" ".join(process.cmdline()[:1]))
            except psutil.Error:
                continue
        if not any(title.startswith("ray::MapWorker") for title in titles):
            return
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Where forward passes dominate; shorter runs mostly time the actors' start.
    parser.add_argument("--images", type=int, default=32768)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--width", type=int, default=64, help="conv channels (cost per image)")
    add_write_docs(parser)
    args = parser.parse_args()

    torch.set_num_threads(1)
    source, classifier = SyntheticImages(args.images), conv_classifier(args.width)
    print(f"workload: {args.images} images 64x64, conv width {args.width}, batch "
          f"{args.batch_size}; {os.cpu_count()} cores; load average before "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    start = time.perf_counter()
    ray = connect(ExecutionConfig(engine="ray", workers=2))  # as singaudit starts a local one
    print(f"local Ray cluster start (not counted): {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    ray.data.range(1).materialize()  # Ray Data's helper actors: once per cluster, not per run
    print(f"Ray Data's first dataset on the cluster (not counted): "
          f"{time.perf_counter() - start:.1f} s")

    cpu = ProcessCpu()
    spent: dict[str, dict[str, tuple[float, float, int]]] = {}

    def timed(name: str, config: ExecutionConfig | None):
        wait_for_actors_to_exit()
        before = cpu.snapshot()
        *rates, values = images_per_second(classifier, source, args.batch_size, config)
        spent[name] = ProcessCpu.spent(before, cpu.snapshot())
        runs[name] = tuple(rates)
        return values

    runs: dict[str, tuple[float, float, float]] = {}  # (images/s, seconds, first chunk seconds)
    reference = timed("local (before)", None)
    for workers in (1, 2):
        name = f"ray, {workers} worker{'s' if workers > 1 else ''}"
        values = timed(name, ExecutionConfig(engine="ray", workers=workers, cpus_per_worker=1))
        assert torch.equal(values, reference), "Ray's rows differ from the local ones"
    timed("local (after)", None)
    cpu.stop.set()
    ray.shutdown()

    # the mean time of the two local runs, as a rate
    local = 2 / sum(1 / runs[f"local ({when})"][0] for when in ("before", "after"))
    print(f"{'executor':<18}{'images/s':>10}{'seconds':>10}{'first chunk':>13}")
    for name, (rate, seconds, first) in runs.items():
        print(f"{name:<18}{rate:>10.1f}{seconds:>10.1f}{first:>11.1f} s")
    speed_up = runs["ray, 2 workers"][0] / local
    overhead = local / runs["ray, 1 worker"][0]
    print(f"speed-up, ray 2 workers over local: {speed_up:.2f}x (target >= 1.7)")
    print(f"overhead, local over ray 1 worker:  {overhead:.2f}x (target <= 1.25)")
    print("CPU seconds per process kind in each run (user + system; the forward passes are "
          "the driver's in local runs, the actors' in Ray runs):")
    for name, kinds in spent.items():
        total = sum(u + s for u, s, _ in kinds.values())
        parts = ", ".join(f"{kind}{f' x{n}' if n > 1 else ''} {u:.1f}+{s:.1f}"
                          for kind, (u, s, n) in sorted(kinds.items(),
                                                         key=lambda item: -sum(item[1][:2])))
        print(f"  {name:<16} {total:6.1f} s: {parts}")
    print("rows identical to the local executor's: yes; load average after "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if args.write_docs:
        table = markdown_table(
            ["executor", "images/s", "seconds", "first chunk s", "CPU s (all processes)"],
            [[name, f"{rate:.1f}", f"{seconds:.1f}", f"{first:.1f}",
              f"{sum(u + s for u, s, _ in spent[name].values()):.1f}"]
             for name, (rate, seconds, first) in runs.items()])
        write_docs(__file__, table, (
            f"{args.images:,} in-memory 64x64 images, conv width {args.width}, batch "
            f"{args.batch_size}; rows identical on every executor. Speed-up of 2 Ray workers "
            f"over local: {speed_up:.2f}x (target >= 1.7); local over 1 Ray worker: "
            f"{overhead:.2f}x (target <= 1.25)."))


if __name__ == "__main__":
    main()
