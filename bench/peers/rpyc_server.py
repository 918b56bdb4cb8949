"""The bench's RPyC server: a ThreadedServer on 127.0.0.1 offering BenchService.

Started by bench/peers/rpyc.ts with /usr/bin/python3 (Debian's python3-rpyc,
RPyC 5.3). It prints one JSON line, {"port": N, "version": "5.3.0"}, once the
listener accepts connections, then serves until its stdin closes, and exits.
"""

import os
import sys
import threading
import time

import rpyc
from rpyc.utils.server import ThreadedServer

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TAGS = ("red", "green", "blue", "admin", "beta", "ops")
# Tables by row count, built once for the process (bench/table.ts has the same
# rows): the pull scenario times moving the value, not making it.
TABLES = {}


def build_table(rows):
    """rows plain dicts, field for field and value for value bench/table.ts's."""
    return [
        {
            "id": i,
            "name": f"User {i}",
            "email": f"user{i}@example.com",
            "score": (i * 7919 % 10000) / 100,
            "tags": [TAGS[i % 6], TAGS[(i + 2) % 6]],
        }
        for i in range(rows)
    ]


class Thing:
    """What make() returns: a plain object, so it travels by reference."""

    def __init__(self):
        self.payload = [0]

    def value(self):
        return self.payload[0]


class BenchService(rpyc.SlaveService):
    """The classic slave service (so the client's conn.modules works) plus the
    bench's own calls. ThreadedServer gets the class, so each connection has
    its own instance."""

    def on_connect(self, conn):
        super().on_connect(conn)
        # SlaveService.on_connect sets allow_exposed_attrs=False (it opens every
        # attribute instead), which would hide the exposed_ prefix: root.add
        # would look for an attribute literally named "add". Turning it back on
        # keeps classic access and lets root.add find exposed_add.
        conn._config["allow_exposed_attrs"] = True

    def exposed_add(self, a, b):
        return a + b

    def exposed_inc(self, x):
        return x + 1

    def exposed_echo(self, data):
        return data

    def exposed_items(self, count):
        """Items 0 .. count - 1, one at a time (a generator: iterated remotely)."""
        return (i for i in range(count))

    def exposed_callback(self, fn, count):
        """Calls the client's fn(1) count times; microseconds per call."""
        start = time.perf_counter()
        for _ in range(count):
            fn(1)
        return (time.perf_counter() - start) / count * 1e6

    def exposed_table(self, rows):
        """The table of `rows` rows; a list travels by reference (a netref),
        so the client pulls it with rpyc.classic.obtain."""
        table = TABLES.get(rows)
        if table is None:
            table = TABLES[rows] = build_table(rows)
        return table

    def exposed_make(self):
        return Thing()

    def exposed_rss(self):
        """This process's resident set size in bytes."""
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE

    def exposed_netrefs(self):
        """How many of this server's objects the client holds netrefs to.

        In RPyC 5.3, Connection._box adds every object it sends by reference to
        conn._local_objects, a rpyc.lib.colls.RefCountingColl whose _dict maps
        the object's id_pack to [object, extra references]; the client's
        HANDLE_DEL (sent when its netref is garbage-collected) decrements the
        count and removes the entry at zero. The collection has no __len__,
        so the number of live exports is len(_local_objects._dict). It
        includes the root service itself and every bound method the client
        still holds (this one included)."""
        return len(self._conn._local_objects._dict)


def main():
    server = ThreadedServer(BenchService, hostname="127.0.0.1", port=0)
    thread = threading.Thread(target=server.start, daemon=True)
    thread.start()
    # The port is known once bound, but connections are only accepted after
    # start() has called listen(); it sets `active` right after.
    deadline = time.monotonic() + 10
    while not server.active:
        if not thread.is_alive() or time.monotonic() > deadline:
            sys.exit("rpyc_server: the server did not start")
        time.sleep(0.001)
    sys.stdout.write('{"port": %d, "version": "%s"}\n' % (server.port, rpyc.__version__))
    sys.stdout.flush()
    # Nothing is sent on stdin; its end is the signal to stop.
    while sys.stdin.buffer.read(65536):
        pass
    server.close()


if __name__ == "__main__":
    main()
