"""Starting or joining a Ray cluster: from the main thread, and within a bounded time.

Ray ties the services that ``ray.init(address="local")`` starts to the thread that called it
(they get the thread's death signal), so a local cluster is started only from the main thread.
Joining an address is checked first in plain Python, with a deadline, while the main thread
stays free for Ctrl-C and SIGTERM: Ray's own connect retries for minutes, blocked in C++.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType

from singaudit.errors import ClusterUnavailable, SingauditError
from singaudit.wording import seconds

# How long the address is tried before exit code 4: a refused port is retried for
# REACHABLE_WITHIN_S (a head that is still starting), then the cluster has GCS_ANSWER_WITHIN_S to
# answer as a Ray cluster (with the token, where it needs one).
REACHABLE_WITHIN_S = 5.0
GCS_ANSWER_WITHIN_S = 15.0
CONNECT_WITHIN_S = REACHABLE_WITHIN_S + GCS_ANSWER_WITHIN_S  # the documented bound

TOKEN_HELP = ("set RAY_AUTH_MODE=token and give this process the cluster's token: the "
              "RAY_AUTH_TOKEN variable, a file named by RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token "
              "(`ray get-auth-token` on the head prints it)")


class MainThreadStarts:
    """Cluster starts that worker threads ask for, made by the main thread while it waits for
    their jobs (``serve``): the cluster starts only once a job needs it, and never in a worker."""

    def __init__(self) -> None:
        # (start, its done event, its outcome: {"error": the start's error})
        self._requests: queue.Queue[
            tuple[Callable[[], object], threading.Event, dict[str, SingauditError]]
        ] = queue.Queue()
        self._serving = False
        self._serves_ended = 0
        self._failure: SingauditError | None = None
        self._started = False

    def ask(self, start: Callable[[], object]) -> None:
        """From a worker thread: have the main thread run ``start``; its error is raised here."""
        if self._failure is not None:  # one failed start answers every job at once
            raise type(self._failure)(str(self._failure))
        ended = self._serves_ended
        done = threading.Event()
        outcome: dict[str, SingauditError] = {}
        self._requests.put((start, done, outcome))
        unserved = 0.0
        while not done.wait(0.1):
            if self._serves_ended != ended:
                raise ClusterUnavailable("the run stopped before the Ray cluster was started")
            # The main thread calls serve() right after handing out the jobs; a thread that
            # nobody serves is told so instead of waiting for ever.
            unserved = 0.0 if self._serving else unserved + 0.1
            if unserved >= _UNSERVED_AFTER_S:
                raise ClusterUnavailable(
                    "the Ray cluster can only be started or joined from the main thread (start "
                    "the executor, or wait for these jobs with its wait(), in the main thread)")
        error = outcome.get("error")
        if error is not None:
            raise type(error)(str(error))

    def serve(self, futures: Iterable[concurrent.futures.Future]) -> None:
        """In the main thread: wait for ``futures``, making the starts their jobs ask for."""
        self._serving = True
        try:
            pending = set(futures)
            while pending:
                _, pending = concurrent.futures.wait(pending, timeout=0.1)
                self._answer()
        finally:
            self._serving = False
            self._serves_ended += 1

    def _answer(self) -> None:
        while True:
            try:
                start, done, outcome = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                if self._failure is not None:
                    raise self._failure
                if not self._started:  # the jobs that asked meanwhile share this start
                    start()
                    self._started = True
            except SingauditError as error:
                self._failure = outcome["error"] = error
            except BaseException:  # Ctrl-C here: the waiting job ends too, then this thread
                outcome["error"] = ClusterUnavailable("interrupted while connecting to Ray")
                raise
            finally:
                done.set()


_UNSERVED_AFTER_S = 10.0


def start_or_join(ray: ModuleType, address: str | None, num_cpus: int) -> None:
    """``ray.init`` for ``address`` (None: a new local cluster of ``num_cpus`` slots)."""
    if address:
        where = check_reachable(address)
        _init(ray, f"the Ray cluster at {where}", address=address)
        return
    if threading.current_thread() is not threading.main_thread():
        # Its services would die with this thread and the run a minute later, silently.
        raise ClusterUnavailable("a local Ray cluster can only be started from the main thread "
                                 "(start the executor before using it from other threads)")
    _own_token()
    _init(ray, "a new local Ray cluster", address="local", num_cpus=num_cpus,
          include_dashboard=False)


def _init(ray: ModuleType, where: str, **options: str | int | bool) -> None:
    try:
        ray.init(log_to_driver=False, logging_level="ERROR", **options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
        raise ClusterUnavailable(f"cannot connect to {where}: {error}") from None


def _own_token() -> None:
    """A new local cluster gets a token of this process's own: Ray would otherwise write one to
    ~/.ray/auth_token, outside anything singaudit may write (unless the user chose a mode)."""
    if "RAY_AUTH_MODE" in os.environ or "RAY_AUTH_TOKEN" in os.environ:
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)  # inherited by the cluster's processes
    from ray._raylet import Config

    Config.initialize("")  # Ray reads its mode once; as ray's own token set-up does


def check_reachable(address: str) -> str:
    """Fail within CONNECT_WITHIN_S, with the reason, unless ``address`` answers as a Ray cluster
    that accepts this process (its token, where it needs one); returns host:port."""
    target = _bootstrap_address(address)
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterUnavailable(f"the Ray address {address!r} is not host:port")
    # Ray replaces a loopback host with this node's address: name both.
    where = target if address in (target, f"ray://{target}") else f"{address} ({target})"
    _wait_for_port(host, int(port), where)
    if address.startswith("ray://"):
        return where  # a Ray Client server: not a GCS, nothing more to ask it here
    token_problem = _missing_token()
    if token_problem is not None:
        raise ClusterUnavailable(f"cannot connect to the Ray cluster at {where}: {token_problem}")
    _ask_gcs(target, where)
    return where


def _bootstrap_address(address: str) -> str:
    if address.startswith("ray://"):
        return address.removeprefix("ray://").split("/", 1)[0]
    from ray._private.services import canonicalize_bootstrap_address

    try:
        target = canonicalize_bootstrap_address(address)
    except (ConnectionError, ValueError, OSError) as error:
        raise ClusterUnavailable(f"no Ray cluster at {address!r}: {error}") from None
    if target is None:
        raise ClusterUnavailable(f"no Ray cluster at {address!r}: none was started on this node "
                                 "(`ray start --head`), or give host:port")
    return target


def _wait_for_port(host: str, port: int, where: str) -> None:
    deadline = time.monotonic() + REACHABLE_WITHIN_S
    while True:
        try:
            with socket.create_connection((host, port), timeout=2.0):
                return
        except OSError as error:
            reason = error.strerror or str(error)
        if time.monotonic() >= deadline:
            raise ClusterUnavailable(
                f"cannot connect to the Ray cluster at {where}: nothing answers there "
                f"({reason}, for {seconds(REACHABLE_WITHIN_S)}); is its head running "
                "(`ray start --head`) and the port open?")
        time.sleep(0.25)


def _missing_token() -> str | None:
    """Token mode without a token: Ray's C++ client would abort the whole process."""
    from ray._raylet import AuthenticationMode, AuthenticationTokenLoader, get_authentication_mode

    if get_authentication_mode() != AuthenticationMode.TOKEN:
        return None
    if AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True):
        return None
    return f"RAY_AUTH_MODE is token but no auth token was found; {TOKEN_HELP}"


def _ask_gcs(target: str, where: str) -> None:
    """One request to the cluster's control service (GCS), made by a helper thread: Ray's client
    blocks in C++, where neither Ctrl-C nor SIGTERM would reach this thread."""
    from ray._raylet import InnerGcsClient
    from ray.exceptions import AuthenticationError

    outcome: dict[str, BaseException | None] = {}
    done = threading.Event()

    def ask() -> None:
        try:
            InnerGcsClient.standalone(target, None, int(GCS_ANSWER_WITHIN_S * 1000))
            outcome["error"] = None
        except BaseException as error:  # noqa: BLE001 -- handed to the waiting thread
            outcome["error"] = error
        done.set()

    with _quiet_stderr():  # Ray's C++ client logs each failed attempt itself
        threading.Thread(target=ask, daemon=True, name="singaudit-ray-connect").start()
        deadline = time.monotonic() + GCS_ANSWER_WITHIN_S + 5.0  # its own timeout comes first
        while not done.wait(0.1):
            if time.monotonic() >= deadline:
                break
    error = outcome.get("error", TimeoutError())
    if error is None:
        return
    if isinstance(error, AuthenticationError):
        from ray._raylet import AuthenticationMode, get_authentication_mode

        if get_authentication_mode() != AuthenticationMode.TOKEN:
            raise ClusterUnavailable(f"cannot connect to the Ray cluster at {where}: it needs "
                                     f"Ray's auth token and none was given; {TOKEN_HELP}")
        raise ClusterUnavailable(f"cannot connect to the Ray cluster at {where}: it refused "
                                 "this process's auth token (not the cluster's token?)")
    waited = math.ceil(GCS_ANSWER_WITHIN_S)
    raise ClusterUnavailable(f"cannot connect to the Ray cluster at {where}: the port is open "
                             f"but no Ray control service (GCS) answered within {waited} s "
                             f"({_first_line(error) or type(error).__name__})")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
