"""Ray cluster scenarios run in a subprocess (a process joins one Ray cluster for good):

``lost CACHE``: a one-node ``ray.cluster_utils.Cluster``; its processes are killed once the first
chunk is cached; prints the error and the cached chunk count as JSON.
``two-nodes OUT CACHE``: a two-node Cluster runs the reduced demo audit through the CLI
(``--ray-address``); prints the exit code and the nodes that ran encoder actors as JSON.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMO = HERE.parents[1] / "audits" / "demo.yaml"
SMALL = (
    "data.images_per_class=8",
    "data.options.scenes=72",
    "translator.fit.options.scenes=360",
    "checks={null_invariance: {}, class_semantics: {n_boot: 100}}",
    "report.formats=[json]",
    "device=cpu",
)


def lost(cache_dir: str) -> dict:
    from pipeline_world import write_images
    from ray.cluster_utils import Cluster
    from test_ray_executor import _slow_classifier

    from singaudit.adapters.sources import load_data
    from singaudit.pipeline.executors import ExecutionConfig, make_executor
    from singaudit.pipeline.features import extract

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 3})
    folder = write_images(Path(cache_dir).parent / "images", per_class=6)

    def kill_the_cluster() -> None:
        import psutil  # a dependency of ray

        while not list(Path(cache_dir).rglob("*.safetensors")):
            time.sleep(0.1)
        # The whole node goes, its workers too: a worker whose raylet died lives on otherwise.
        doomed = []
        for processes in cluster.head_node.all_processes.values():
            for process in processes:
                try:
                    doomed += [process.process.pid,
                               *(p.pid for p in psutil.Process(process.process.pid).children(
                                   recursive=True))]
                except psutil.Error:
                    continue
        for pid in doomed:
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                continue

    threading.Thread(target=kill_the_cluster, daemon=True).start()
    config = ExecutionConfig(engine="ray", workers=1, address=cluster.address)
    try:
        extract(_slow_classifier(), load_data(f"folder:{folder}"), cache=cache_dir,
                batch_size=1, chunk_size=2, progress=False, executor=make_executor(config))
        error = None
    except Exception as caught:  # noqa: BLE001 -- reported to the test
        error = {"type": type(caught).__name__, "message": str(caught),
                 "exit_code": getattr(caught, "exit_code", None)}
    return {"error": error, "cached": len(list(Path(cache_dir).rglob("*.safetensors")))}


def two_nodes(out: str, cache_dir: str) -> dict:
    from ray.cluster_utils import Cluster

    from singaudit.cli.main import run_cli

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    args = ["run", str(DEMO), "--ray-address", cluster.address, "--out", out,
            "--cache-dir", cache_dir]
    for assignment in (*SMALL, "execution.workers=2"):
        args += ["--set", assignment]
    code = run_cli(args)
    import ray

    nodes = len([node for node in ray.nodes() if node["Alive"]])
    ray.shutdown()
    cluster.shutdown()
    # The same audit on the local engine (its own cache): the verdicts to compare with.
    local = [*args[:2], "--engine", "local", "--out", f"{out}-local",
             "--cache-dir", f"{cache_dir}-local", *args[8:]]
    return {"exit_code": code, "nodes": nodes, "local_exit_code": run_cli(local),
            "statuses": _statuses(out), "local_statuses": _statuses(f"{out}-local")}


def _statuses(out: str) -> dict:
    results = json.loads((Path(out) / "results.json").read_text())
    return {model["name"]: [model["status"], *(c["status"] for c in model["checks"])]
            for model in results["models"]}


if __name__ == "__main__":
    sys.path[:0] = [str(HERE)]
    mode, *rest = sys.argv[1:]
    report = lost(*rest) if mode == "lost" else two_nodes(*rest)
    print("RESULT " + json.dumps(report), flush=True)
    sys.stdout.flush()
    import os

    os._exit(0)  # the lost scenario's cluster is gone: skip Ray's shutdown hooks
