"""A Python RPyC peer for rdc's interop tests (RPyC 5.3 from Debian, 6.0.2 via PYTHONPATH).

    python3 peer.py [bind_threads] [tls KEYFILE CERTFILE] [unix PATH]

starts three ThreadedServers on free loopback ports (classic: SlaveService;
service: CalcService; public: CalcService with allow_public_attrs), with
"tls" a fourth (classic over TLS, rpyc_classic --ssl-*), with "unix" a classic
server on that unix socket; prints the ports on one line, and serves until
stdin closes. No plumbum needed.
"""
import os
import sys
import threading

if "bind_threads" in sys.argv:
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


def start(service, config, **where):
    where = where or {"hostname": "127.0.0.1", "port": 0}
    server = ThreadedServer(service, protocol_config=config, **where)
    server._listen()  # listening before the port is printed (start() skips it then)
    threading.Thread(target=server.start, daemon=True).start()
    return server


def main():
    servers = [
        start(SlaveService, {}),
        start(CalcService, {}),
        start(CalcService, {"allow_public_attrs": True}),
    ]
    args = sys.argv[1:]
    if "tls" in args:
        from rpyc.utils.authenticators import SSLAuthenticator
        at = args.index("tls")
        authenticator = SSLAuthenticator(args[at + 1], args[at + 2])
        servers.append(start(SlaveService, {}, hostname="127.0.0.1", port=0,
                             authenticator=authenticator))
    ports = [str(s.listener.getsockname()[1]) for s in servers]
    if "unix" in args:
        servers.append(start(SlaveService, {}, socket_path=args[args.index("unix") + 1]))
    print(" ".join(ports), flush=True)
    sys.stdin.read()
    for server in servers:
        server.close()


main()
