"""A real ``redis-server`` for the tests: started on a free 127.0.0.1 port, without
persistence (``--save "" --appendonly no``), and stopped, killed or restarted (empty) on
the same port on demand.

It needs only the ``redis-server`` binary on PATH (Debian's ``redis-server`` package;
``.ci/run`` installs it when absent); it talks to the server over a plain socket, so it
works whether redis-py is installed or not.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

#: Seconds a server may take to answer its first PING.
START_TIMEOUT = 10.0


def binary() -> str | None:
    """The path of ``redis-server``, or ``None`` when there is none on PATH."""
    return shutil.which("redis-server")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command(port: int, *args: str, timeout: float = 5.0) -> bytes:
    """Send one command to the server on *port* and return its raw answer's first line."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(arg.encode())}\r\n{arg}\r\n".encode() for arg in args
    )
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(payload)
        answer = b""
        while not answer.endswith(b"\r\n"):
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.strip()


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1:``port``."""

    def __init__(self, port: int | None = None) -> None:
        found = binary()
        if found is None:
            raise RuntimeError("redis-server is not on PATH")
        self.binary = found
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="compat-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> RedisServer:
        """Start the server (empty) and wait until it answers PING."""
        if self.running:
            return self
        log = Path(self._dir.name) / "redis.log"
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
                "--logfile",
                str(log),
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        give_up = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if command(self.port, "PING", timeout=0.5) == b"+PONG":
                    return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > give_up:
                text = log.read_text(errors="replace")[-500:] if log.exists() else ""
                self.stop()
                raise RuntimeError(f"redis-server did not start on {self.port}: {text}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (SIGTERM) and wait for it."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> RedisServer:
        """Kill the server and start a new, empty one on the same port."""
        self.kill()
        return self.start()

    def pause(self, milliseconds: int) -> None:
        """Make the server hold every client's commands for *milliseconds* (``CLIENT
        PAUSE``): connections still open, answers come late."""
        answer = command(self.port, "CLIENT", "PAUSE", str(milliseconds))
        if answer != b"+OK":
            raise RuntimeError(f"CLIENT PAUSE failed: {answer!r}")

    def flush(self) -> None:
        """Empty the server: its keys and its script cache."""
        command(self.port, "FLUSHALL")
        command(self.port, "SCRIPT", "FLUSH")

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def calls_in_a_process(
    openai_url: str,
    redis_url: str | None,
    prefix: str,
    calls: int,
    start: Any,
    results: Any,
) -> None:
    """One process of a multi-process run: *calls* concurrent calls through
    ``compat.wrap(openai.AsyncOpenAI(...))``, their state in Redis at *redis_url* (or
    the process's own when ``None``), started when every process waits at *start* (a
    ``multiprocessing.Barrier``). Puts ``(successes, failures, round_trips, fallbacks)``
    on *results*."""
    import asyncio

    import openai

    import compat
    from compat.testing import FaultServer

    # A timeout far above Redis's usual answer (well under a millisecond): on a loaded
    # machine (a coverage run on two cores) 0.25 s is sometimes missed, and the state
    # then rightly falls back to the process's own pacing, which is not what this run
    # measures. Falling back is tested on its own (the fault tests).
    state: Any = (
        compat.RedisState.from_url(redis_url, prefix=prefix, timeout=5.0)
        if redis_url
        else compat.LocalState()
    )
    raw = openai.AsyncOpenAI(base_url=openai_url, api_key="sk-test")
    client = compat.wrap(raw, compat.RetryPolicy(state=state, deadline=60.0))

    async def one() -> bool:
        try:
            await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
        except compat.LLMError:
            return False
        return True

    async def warm_up() -> None:
        # The SDK's first call in a process costs half a second of imports: made here,
        # on a server of its own, it weighs on no figure and spends none of the limit.
        with FaultServer() as elsewhere:
            other = openai.AsyncOpenAI(base_url=elsewhere.openai_url, api_key="sk-test")
            await other.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
            await other.close()

    async def run() -> list[bool]:
        await warm_up()
        await asyncio.get_running_loop().run_in_executor(None, start.wait, 60)
        try:
            return await asyncio.gather(*(one() for _ in range(calls)))
        finally:
            await raw.close()

    done = asyncio.run(run())
    results.put(
        (
            sum(done),
            len(done) - sum(done),
            getattr(state, "round_trips", 0),
            getattr(state, "fallbacks", 0),
        )
    )
