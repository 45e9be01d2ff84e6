"""The Ray engine as a user runs it: ``singaudit run ... --engine ray`` in a subprocess, with its
default local cluster and joining a ``ray start --head`` cluster on loopback; connecting is
bounded (exit 4 naming the cause) and Ctrl-C or SIGTERM end a pending connect (exit 2)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'singaudit[ray]')")

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "audits" / "demo.yaml"
SINGAUDIT = Path(sys.executable).with_name("singaudit")
# The demo reduced to seconds of work; one torch thread everywhere, so that the local run and
# the actors (one thread each) add their numbers in the same order and the results are equal.
SMALL = ("data.images_per_class=8", "data.options.scenes=72", "translator.fit.options.scenes=360",
         "checks={null_invariance: {}, class_semantics: {n_boot: 100}}", "report.formats=[json]",
         "device=cpu", "execution.workers=1")


@pytest.fixture(scope="module", autouse=True)
def _ray_temp_dir():
    """A folder for the clusters these commands start (not /tmp/ray), removed afterwards; short,
    as Ray's socket paths under it must fit in 107 bytes."""
    global RAY_TEMP_DIR
    RAY_TEMP_DIR = tempfile.mkdtemp(prefix="ray-")
    yield
    shutil.rmtree(RAY_TEMP_DIR, ignore_errors=True)


RAY_TEMP_DIR = ""


def _environment(home: Path, **extra: str) -> dict[str, str]:
    """The user's environment without Ray's settings; Ray's files under ``home`` and the
    module's temporary folder."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    return {**env, "HOME": str(home), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "RAY_BACKEND_LOG_LEVEL": "fatal", "RAY_TMPDIR": RAY_TEMP_DIR, **extra}


def _singaudit(tmp_path: Path, out: str, *options: str, env: dict[str, str],
               models: tuple[str, ...] = ("clean",), cache: str | None = None
               ) -> subprocess.CompletedProcess:
    args = [str(SINGAUDIT), "run", str(DEMO), "--out", str(tmp_path / out),
            "--cache-dir", str(tmp_path / f"cache-{cache or out}"), *options]
    for assignment in SMALL:
        args += ["--set", assignment]
    for model in models:
        args += ["--only", model]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=900,
                          check=False)


def _differences(a: Path, b: Path) -> list[str]:
    sys.path.insert(0, str(ROOT / "scripts"))
    from compare_results import differences

    left, right = (json.loads(p.read_text()) for p in (a, b))
    # The spec's digest covers report.out (each run's own --out folder).
    for results in (left, right):
        results["provenance"]["spec"].pop("sha256")
    return differences(left, right)


def _no_staging_left(out: Path) -> bool:
    from singaudit.io.output_folder import STAGING_PREFIX

    return not out.exists() or not [p for p in out.iterdir()
                                    if p.name.startswith(STAGING_PREFIX)]


def test_the_ray_engine_from_the_cli_equals_the_local_run(tmp_path):
    """The default local cluster, started by the CLI: it once died with the pool thread that
    started it (exit 1 a minute later, no message, a staging folder left in --out)."""
    home = tmp_path / "home"
    on_ray = _singaudit(tmp_path, "ray", "--engine", "ray", env=_environment(home))
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    local = _singaudit(tmp_path, "local", env=_environment(home))
    assert local.returncode == 0, local.stderr[-3000:]
    assert _differences(tmp_path / "local" / "results.json", tmp_path / "ray" / "results.json") \
        == []
    assert _no_staging_left(tmp_path / "ray")
    # The engine keys no check: a local run on the Ray run's cache computes none again.
    warm = _singaudit(tmp_path, "warm", "--no-replay", env=_environment(home), cache="ray")
    assert warm.returncode == 0, warm.stderr[-3000:]
    warm_results = json.loads((tmp_path / "warm" / "results.json").read_text())
    assert warm_results["provenance"]["cached_checks"] == ["clean::null_invariance",
                                                           "clean::class_semantics"]
    # Ray would write a token for its new cluster to ~/.ray; the run gives it one in memory.
    assert not (home / ".ray").exists()


# ------------------------------------------------------------------ a cluster from `ray start`

@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A one-node cluster from ``ray start --head --block`` on loopback, with an auth token."""
    root = tmp_path_factory.mktemp("head")
    token = secrets.token_hex(32)
    port = _free_port()
    env = _environment(root / "home", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    ray = Path(sys.executable).with_name("ray")
    process = subprocess.Popen(
        [str(ray), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
         "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={root / 'ray'}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        _wait_until_up(address, process)
        yield {"address": address, "token": token}
    finally:
        _kill_with_children(process)


def _kill_with_children(process: subprocess.Popen) -> None:
    """The head and every process it started (GCS, raylet, workers), at once: its own orderly
    shutdown takes half a minute on a busy machine, and nothing of it is kept."""
    import psutil  # a dependency of ray

    try:
        doomed = [psutil.Process(process.pid), *psutil.Process(process.pid).children(
            recursive=True)]
    except psutil.Error:
        doomed = []
    for member in doomed:
        try:
            member.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(doomed, timeout=60)
    process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(address: str, process: subprocess.Popen) -> None:
    host, _, port = address.rpartition(":")
    for _ in range(1200):
        if process.poll() is not None:
            pytest.fail(f"ray start exited with {process.returncode}")
        try:
            with socket.create_connection((host, int(port)), timeout=1.0):
                return
        except OSError:
            threading.Event().wait(0.1)
    pytest.fail("ray start --head did not open its port")


@pytest.mark.slow
def test_joining_a_ray_start_cluster_from_the_cli_equals_the_local_run(head, tmp_path):
    env = _environment(tmp_path / "home", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=head["token"])
    joined = _singaudit(tmp_path, "joined", "--ray-address", head["address"], env=env)
    assert joined.returncode == 0, joined.stderr[-3000:]
    local = _singaudit(tmp_path, "local", env=env)
    assert local.returncode == 0, local.stderr[-3000:]
    assert _differences(tmp_path / "local" / "results.json",
                        tmp_path / "joined" / "results.json") == []


def test_joining_without_the_auth_token_is_exit_4_naming_the_token(head, tmp_path):
    missing = _singaudit(tmp_path, "out", "--ray-address", head["address"],
                         env=_environment(tmp_path / "home"))
    assert missing.returncode == 4, missing.stderr[-3000:]
    assert "needs Ray's auth token and none was given" in missing.stderr
    assert "RAY_AUTH_TOKEN" in missing.stderr and "Traceback" not in missing.stderr
    assert _no_staging_left(tmp_path / "out")


def test_a_token_mode_without_a_token_is_exit_4_not_a_crash(head, tmp_path):
    # Ray's C++ client aborts the process (a core dump) when token mode finds no token.
    missing = _singaudit(tmp_path, "out", "--ray-address", head["address"],
                         env=_environment(tmp_path / "home", RAY_AUTH_MODE="token"))
    assert missing.returncode == 4, missing.stderr[-3000:]
    assert "no auth token was found" in missing.stderr


def test_a_wrong_auth_token_is_exit_4(head, tmp_path):
    wrong = _singaudit(tmp_path, "out", "--ray-address", head["address"],
                       env=_environment(tmp_path / "home", RAY_AUTH_MODE="token",
                                        RAY_AUTH_TOKEN=secrets.token_hex(32)))
    assert wrong.returncode == 4, wrong.stderr[-3000:]
    assert "refused this process's auth token" in wrong.stderr


# ------------------------------------------------------------------ bounded connect, signals

def test_a_closed_port_is_exit_4_with_one_message(tmp_path):
    port = _free_port()  # closed again once the probe socket is gone
    closed = _singaudit(tmp_path, "out", "--ray-address", f"127.0.0.1:{port}",
                        env=_environment(tmp_path / "home"))
    assert closed.returncode == 4, closed.stderr[-3000:]
    lines = [line for line in closed.stderr.splitlines() if line.startswith("singaudit:")]
    assert len(lines) == 1 and "nothing answers there" in lines[0], closed.stderr[-3000:]
    assert _no_staging_left(tmp_path / "out")


class _SilentServer:
    """A port that accepts connections and never answers: a connect that would wait. On the
    node's address, where Ray sends a loopback address."""

    def __init__(self) -> None:
        from ray._private.services import get_node_ip_address

        self.host = get_node_ip_address()
        self.socket = socket.create_server((self.host, 0))
        self.port = self.socket.getsockname()[1]
        self.accepted = threading.Semaphore(0)
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.held.append(connection)
            self.accepted.release()

    def close(self) -> None:
        self.socket.close()
        for connection in self.held:
            connection.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_a_pending_connect_with_exit_2(tmp_path, signum):
    server = _SilentServer()
    try:
        args = [str(SINGAUDIT), "run", str(DEMO), "--out", str(tmp_path / "out"),
                "--cache-dir", str(tmp_path / "cache"), "--ray-address",
                f"{server.host}:{server.port}", "--only", "clean"]
        for assignment in SMALL:
            args += ["--set", assignment]
        process = subprocess.Popen(args, env=_environment(tmp_path / "home"),
                                   stderr=subprocess.PIPE, text=True)
        # The port check connects and leaves; the second connection is Ray's client, waiting.
        assert server.accepted.acquire(timeout=600)
        assert server.accepted.acquire(timeout=600)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=600)
    finally:
        server.close()
    assert process.returncode == 2, stderr[-3000:]  # not 4: the connect's own deadline
    assert "singaudit: interrupted" in stderr
    assert _no_staging_left(tmp_path / "out")


def test_a_local_cluster_is_never_started_from_another_thread():
    """The cause of the silent deaths: Ray's services die with the thread that started them."""
    import ray

    from singaudit.errors import ClusterUnavailable
    from singaudit.pipeline.executors.ray_connect import start_or_join

    started_before = ray.is_initialized()  # e.g. the session's test cluster
    caught: list[BaseException] = []

    def start() -> None:
        try:
            start_or_join(ray, None, num_cpus=1)
        except BaseException as error:  # noqa: BLE001 -- examined below
            caught.append(error)

    worker = threading.Thread(target=start)
    worker.start()
    worker.join()
    assert len(caught) == 1 and isinstance(caught[0], ClusterUnavailable)
    assert "main thread" in str(caught[0])
    assert ray.is_initialized() == started_before


def test_worker_threads_have_the_main_thread_start_the_cluster_once():
    """Jobs in a pool ask; the main thread, waiting for them, makes the one start (or the one
    failed start that every job then reports)."""
    from concurrent.futures import ThreadPoolExecutor

    from singaudit.errors import ClusterUnavailable
    from singaudit.pipeline.executors.ray_connect import MainThreadStarts

    for fails in (False, True):
        starts, calls, started = MainThreadStarts(), [], threading.Event()

        def start(fails=fails, calls=calls, started=started) -> None:
            calls.append(threading.current_thread() is threading.main_thread())
            if fails:
                raise ClusterUnavailable("nothing answers there")
            started.set()

        def job(starts=starts, started=started, start=start) -> str:
            if not started.is_set():
                starts.ask(start)
            return "computed"

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(job) for _ in range(6)]
            starts.serve(futures)
        outcomes = [f.exception() or f.result() for f in futures]
        assert calls == [True]  # once, in the main thread
        if fails:
            assert all(isinstance(o, ClusterUnavailable) for o in outcomes)
        else:
            assert outcomes == ["computed"] * 6
