"""What the end-to-end scripts share: a check that names what it checked, and loopback ports
for the servers they start (moto, proxies, the function under cargo lambda)."""

import socket
import time

CHECKS = []


def check(cond, what):
    """Fails with `what` unless `cond`; prints it when it holds. CHECKS counts the checks."""
    CHECKS.append(what)
    if not cond:
        raise AssertionError(what)
    print(f"  ok: {what}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"port {port} did not open")
