"""A Python RPyC peer for rdc's interop tests (RPyC 5.3 from Debian, 6.0.2 via PYTHONPATH).

    python3 peer.py [bind_threads]

starts three ThreadedServers on free loopback ports (classic: SlaveService;
service: CalcService; public: CalcService with allow_public_attrs), prints
their ports on one line, and serves until stdin closes. No plumbum needed.
"""
import os
import sys
import threading

if len(sys.argv) > 1 and sys.argv[1] == "bind_threads":
    os.environ["RPYC_BIND_THREADS"] = "true"

import rpyc
from rpyc.core.service import SlaveService
from rpyc.utils.server import ThreadedServer


class CalcService(rpyc.Service):
    """A plain service; with "public", its public attributes are reachable too."""

    def __init__(self):
        self.stats = {"n": 3, "mean": 2.0, "tags": ("a", "b")}
        self.exposed_stats = self.stats

    def exposed_add(self, a, b):
        return a + b

    def exposed_echo(self, value):
        return value

    def exposed_version(self):
        return rpyc.__version__

    def exposed_apply(self, fn, *args):
        return fn(*args)

    def exposed_map(self, fn, items):
        return tuple(fn(x) for x in items)

    def exposed_numbers(self, n):
        return (i * i for i in range(n))

    def exposed_length(self, value):
        return len(value)

    def exposed_bounce(self, fn, n):
        """A callback chain: Deno's fn calls bounce again until n is 0."""
        return 0 if n == 0 else fn(n - 1) + 1

    def exposed_fail(self):
        raise ValueError("boom", 42)

    def exposed_blob(self, n):
        return b"x" * n

    def exposed_refcount(self):
        return len(self._conn._local_objects._dict)

    def on_connect(self, conn):
        self._conn = conn

    def _private(self):
        return "secret"

    def public_method(self):
        return "public"


def start(service, config):
    server = ThreadedServer(service, hostname="127.0.0.1", port=0, protocol_config=config)
    server._listen()  # listening before the port is printed (start() skips it then)
    threading.Thread(target=server.start, daemon=True).start()
    return server


def main():
    servers = [
        start(SlaveService, {}),
        start(CalcService, {}),
        start(CalcService, {"allow_public_attrs": True}),
    ]
    print(" ".join(str(s.listener.getsockname()[1]) for s in servers), flush=True)
    sys.stdin.read()
    for server in servers:
        server.close()


main()
