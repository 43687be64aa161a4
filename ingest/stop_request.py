"""The stop request of `growth ingest`, and waits that give way to it.

SIGTERM or SIGINT only set a flag (:func:`stop_on_signal`); the loop finishes the batch in
hand and ends when it next looks (the stop rules of :mod:`ingest.stop`). That is only
prompt if nothing the loop does blocks for long, so every wait on the way is cut into
steps of at most ``STOP_CHECK_SECONDS`` that look at the flag: the back-off while no
broker answers (:meth:`StopRequest.wait`) and any broker call without a timeout of its
own (:func:`call_unless_stopped`). Broker calls that take a timeout get a short one where
they are made (:mod:`ingest.source`).

Why a flag and short sleeps rather than ``threading.Event``: a signal handler runs in the
main thread between two bytecodes, possibly while that very thread holds the Event's
internal lock inside ``Event.wait``; ``Event.set()`` from the handler would then deadlock.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

STOP_CHECK_SECONDS = 0.1  # longest a wait goes without looking at the stop request


class Stopped(Exception):
    """A stop was requested while the run waited for the broker, before it held anything to finish."""


class StopRequest:
    """Set once (by a signal handler or another thread), never cleared; read by every wait of the run."""

    def __init__(self) -> None:
        self._requested = False

    @property
    def requested(self) -> bool:
        return self._requested

    def request(self) -> None:
        """Safe in a signal handler: one attribute store, no lock."""
        self._requested = True

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, returning as soon as a stop is requested; True if one was."""
        deadline = time.monotonic() + seconds
        while not self._requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, STOP_CHECK_SECONDS))
        return True


def call_unless_stopped(
    call: Callable[[], T], stop: StopRequest, *, limit: float | None = None, abandon: Callable[[T], None] | None = None
) -> T:
    """``call()`` on a helper thread, waited for in steps that look at the stop request.

    For broker calls that block without a timeout of their own, or with one longer than a
    stop may take (kafka-python's bootstrap, its topic listing). Raises :class:`Stopped`
    once a stop is requested and :class:`TimeoutError` after ``limit`` seconds; either way
    the call is abandoned, and should it return later its result goes to ``abandon`` (to
    close a client nobody will use). What the call raises is raised here.
    """
    lock = threading.Lock()
    answers: list[_Answer[T]] = []  # the call's answer, once it returns (unless abandoned)
    abandoned = False

    def run() -> None:
        result: _Answer[T] = _Answer()
        try:
            result.value = call()
        except BaseException as exc:
            result.error = exc
        with lock:
            if not abandoned:
                answers.append(result)
                return
        if result.error is None and abandon is not None:
            abandon(result.value)  # type: ignore[arg-type]  # a value, since the call did not raise

    thread = threading.Thread(target=run, name="growth-broker-call", daemon=True)
    thread.start()
    deadline = None if limit is None else time.monotonic() + limit
    while True:
        thread.join(STOP_CHECK_SECONDS)
        with lock:
            if answers:
                answer = answers[0]
                break
            if stop.requested or (deadline is not None and time.monotonic() >= deadline):
                abandoned = True
                if stop.requested:
                    raise Stopped
                raise TimeoutError(f"no answer within {limit:.0f} s")
    if answer.error is not None:
        raise answer.error
    return answer.value  # type: ignore[return-value]  # the call returned it


@dataclass
class _Answer(Generic[T]):
    """What a call handed to :func:`call_unless_stopped` came back with."""

    value: T | None = None
    error: BaseException | None = None


@contextmanager
def stop_on_signal(stop: StopRequest) -> Iterator[None]:
    """SIGTERM/SIGINT request a stop instead of killing the process mid-write."""

    def handler(signum: int, _frame: object) -> None:
        stop.request()  # first: the log line below may fail (a closed stderr), the request must not
        log.warning("signal %d received: finishing the current batch", signum)

    if threading.current_thread() is not threading.main_thread():  # e.g. inside a Dagster thread
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, previous_handler in previous.items():
            signal.signal(sig, previous_handler)
