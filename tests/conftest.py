"""Suite-wide settings: no hub downloads, and no test writes to the user's own cache."""

from __future__ import annotations

import os

import pytest

# Tests never download weights: a missing hub file must fail at once (ENVIRONMENT.md).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Point the default cache at a session folder; tests that need their own pass cache_dir."""
    previous = os.environ.get("SINGAUDIT_CACHE")
    os.environ["SINGAUDIT_CACHE"] = str(tmp_path_factory.mktemp("singaudit-cache"))
    yield
    if previous is None:
        os.environ.pop("SINGAUDIT_CACHE", None)
    else:
        os.environ["SINGAUDIT_CACHE"] = previous


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster for the whole session (4 logical CPUs: actors never hold every slot).

    Skipped only when Ray is not installed (``pip install 'singaudit[ray]'``; ``make test``
    installs it). Workers see the test helpers' folders on their PYTHONPATH. Ray writes only
    into a temporary folder of its own (not /tmp/ray, not ~/.ray), removed at the end.
    """
    ray = pytest.importorskip("ray", reason="the ray extra is not installed "
                                            "(pip install 'singaudit[ray]')")
    pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'ray[data]')")
    import shutil
    import tempfile
    from pathlib import Path

    here = Path(__file__).parent
    paths = [str(here.parent), str(here / "pipeline"), str(here / "runner"),
             *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    # Short: Ray's socket paths under it must fit in 107 bytes (pytest's tmp paths may not).
    temp_dir = tempfile.mkdtemp(prefix="ray-")
    with pytest.MonkeyPatch.context() as patch:
        _own_ray_token(patch)
        # address="local": a new cluster, never one another process left registered here.
        ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR", _temp_dir=temp_dir,
                 runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(paths),
                                           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}})
        try:
            yield ray
        finally:
            ray.shutdown()
            shutil.rmtree(temp_dir, ignore_errors=True)


def _own_ray_token(patch: pytest.MonkeyPatch) -> None:
    """A token in this process's environment for the new cluster, as ``singaudit run --engine
    ray`` gives one: Ray would otherwise write one to ~/.ray/auth_token."""
    given = {"RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} & set(os.environ)
    if given or os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        return  # the user's own token, or no token at all: Ray writes none
    import secrets

    from ray._raylet import Config

    patch.setenv("RAY_AUTH_MODE", "token")
    patch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))  # inherited by the cluster's processes
    Config.initialize("")  # Ray reads the mode once
