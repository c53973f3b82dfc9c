"""A real ``blog serve`` process for tests, on a free port of loopback."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from blog.settings import Settings
from tests.conftest import free_port


class Server:
    """A ``blog serve`` process on a free port of loopback."""

    def __init__(
        self, settings: Settings, log: Path, *, shutdown_seconds: float = 20, **environment: str
    ) -> None:
        """``environment``: more variables (the OTEL_* ones: none are inherited)."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environ = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("BLOG_", "OTEL_"))
        }
        self.log = log
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "blog", "serve", "--port", str(self.port)],
            env={
                **environ,
                "BLOG_DATABASE_URL": settings.database_url,
                "BLOG_SECRET_KEY": settings.secret_key.get_secret_value(),
                "BLOG_ENVIRONMENT": "test",
                "BLOG_BCRYPT_ROUNDS": "4",
                "BLOG_RATE_LIMITS_ENABLED": "false",
                "BLOG_JOBS_URL": "memory://",
                "BLOG_SHUTDOWN_SECONDS": str(shutdown_seconds),
                **environment,
            },
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "blog serve did not start"
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)

    def terminate(self) -> float:
        """Send SIGTERM; the time it was sent."""
        self.process.send_signal(signal.SIGTERM)
        return time.monotonic()
