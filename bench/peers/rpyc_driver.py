"""The bench's RPyC client, driven by bench/peers/rpyc.ts.

Usage: /usr/bin/python3 rpyc_driver.py PORT

Connects to rpyc_server.py on 127.0.0.1:PORT with rpyc.classic.connect (the
classic client, so conn.modules works), prints {"ready": true, "version": ...}
and then reads one JSON command per line on stdin, for example
{"op": "call", "ms": 60}, and answers each with one JSON line on stdout:
{"value": ...} or {"error": "..."}. It closes the connection and exits when
stdin closes. Nothing else is ever written to stdout.

Every operation uses RPyC's ordinary API the way its users would write it.
"""

import gc
import json
import os
import statistics
import sys
import threading
import time

import rpyc

HOST = "127.0.0.1"
BURST = 1000  # calls in flight per burst in soak
# RPyC's ping gives up after 3 s by default; a ping stuck behind a big pull
# should be measured, not fail.
PING_TIMEOUT = 120


class Driver:
    def __init__(self, port):
        self.port = port
        self.conn = rpyc.classic.connect(HOST, port)
        root = self.conn.root
        # Bound methods fetched once, as a user calling them in a loop would:
        # each `conn.root.add` attribute read is a round trip of its own
        # (GETATTR), and dropping the bound method sends a DEL.
        self.add = root.add
        self.inc = root.inc
        self.echo_fn = root.echo
        self.callback_fn = root.callback
        self.make = root.make
        self.rss = root.rss
        self.netrefs = root.netrefs
        self.add_async = rpyc.async_(self.add)
        self.blobs = {}
        check(self.add(1, 2) == 3, "add")
        check(self.conn.modules.os.path.join("a", "b") == "a/b", "chain")

    def close(self):
        self.conn.close()

    # Each method below is one command; its keyword arguments are the command's fields.

    def call(self, ms, lookup=False):
        """Microseconds per add(1, 2) over at least ms. With lookup, the
        attribute is read on every call (conn.root.add(1, 2) written out in
        the loop): GETATTR + CALL + an async DEL of the bound method."""
        add, root = self.add, self.conn.root
        check((root.add(1, 2) if lookup else add(1, 2)) == 3, "add")
        limit = ms / 1000
        count = 0
        start = time.perf_counter()
        while True:
            if lookup:
                root.add(1, 2)
            else:
                add(1, 2)
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= limit:
                return elapsed / count * 1e6

    def chain(self, ms, module="os"):
        """Microseconds per conn.modules.os.path.join("a", "b") over at least ms.

        conn.modules caches the module netref locally; then `.path` and
        `.join` are a GETATTR round trip each, and the call one more. `.path`
        returns a fresh netref to the posixpath module each time (the last
        one was released), and a module netref is not in RPyC's class cache,
        so it also costs an INSPECT round trip. With module="posixpath" the
        chain is conn.modules.posixpath.join("a", "b") instead."""
        modules = self.conn.modules
        if module == "posixpath":
            def op():
                return modules.posixpath.join("a", "b")
        else:
            def op():
                return modules.os.path.join("a", "b")
        check(op() == "a/b", "chain")
        limit = ms / 1000
        count = 0
        start = time.perf_counter()
        while True:
            op()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= limit:
                return elapsed / count * 1e6

    def getpid(self, ms):
        """Microseconds per conn.modules.os.getpid() over at least ms: the
        module netref is cached; the call is GETATTR + CALL + a DEL of the
        function netref, as RPyC users write it."""
        modules = self.conn.modules
        check(modules.os.getpid() > 0, "getpid")
        limit = ms / 1000
        count = 0
        start = time.perf_counter()
        while True:
            modules.os.getpid()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= limit:
                return elapsed / count * 1e6

    def callback(self, count):
        """Microseconds per server-to-client call, as the server timed them.
        The client serves the server's requests while it waits for the reply
        of its own synchronous request."""
        def fn(x):
            return x + 1
        return self.callback_fn(fn, count)

    def throughput(self, n):
        """Calls per second with n async add(1, 2) sent at once, then awaited."""
        add_async = self.add_async
        start = time.perf_counter()
        results = [add_async(1, 2) for _ in range(n)]
        for result in results:
            result.wait()
        elapsed = time.perf_counter() - start
        check(all(result.value == 3 for result in results), "throughput")
        return n / elapsed

    def echo(self, size, count, fill=None):
        """Microseconds per echo of `size` random bytes: random, so that RPyC's
        zlib compression of every frame over 3000 bytes (on by default) costs
        what it costs on real bulk data and gains nothing. With fill=B (0-255)
        the bytes are all B instead, which zlib shrinks to almost nothing."""
        key = (size, fill)
        data = self.blobs.get(key)
        if data is None:
            self.blobs.clear()
            data = os.urandom(size) if fill is None else bytes([fill]) * size
            self.blobs[key] = data
        echo = self.echo_fn
        check(echo(data) == data, "echo")
        start = time.perf_counter()
        for _ in range(count):
            reply = echo(data)
        elapsed = time.perf_counter() - start
        check(len(reply) == size, "echo size")
        return elapsed / count * 1e6

    def iterate(self, n, count):
        """Microseconds per iteration of conn.root.items(n) with rpyc.buffiter
        (RPyC's batched iteration), `count` times."""
        items = self.conn.root.items
        check(list(rpyc.buffiter(items(n))) == list(range(n)), "buffiter")
        start = time.perf_counter()
        for _ in range(count):
            got = list(rpyc.buffiter(items(n)))
        elapsed = time.perf_counter() - start
        check(len(got) == n, "buffiter length")
        return elapsed / count * 1e6

    def wire_bytes(self, text):
        """Bytes this end writes and reads (through its socket stream) for one
        echo of `text` (RPyC compresses frames over 3000 bytes with zlib)."""
        channel = self.conn._channel
        stream = channel.stream
        counted = CountingStream(stream)
        channel.stream = counted
        try:
            check(self.echo_fn(text) == text, "echo text")
        finally:
            channel.stream = stream
        counts = {"out": counted.written, "in": counted.read_bytes}
        return counts["out"] + counts["in"]

    def pull(self, rows, port):
        """Two new connections from this process to the server on port (one of
        its own, see bench/peers/rpyc.ts): the main thread pulls the
        table on the first with rpyc.classic.obtain(conn.root.table(rows))
        (the server pickles the list, this end unpickles it), while a thread
        pings the second back to back. Every ping's round trip in ms, and the
        pull's."""
        pulling = rpyc.connect(HOST, port)
        try:
            pinging = rpyc.connect(HOST, port)
            try:
                return self._pull(pulling, pinging, rows)
            finally:
                pinging.close()
        finally:
            pulling.close()

    def _pull(self, pulling, pinging, rows):
        pinging.ping(timeout=PING_TIMEOUT)  # the first ping is not the one measured
        table_fn = pulling.root.table
        gc.collect()
        pings, failed = [], []
        done = threading.Event()

        def pinger():
            try:
                while not done.is_set():
                    start = time.perf_counter()
                    pinging.ping(timeout=PING_TIMEOUT)
                    pings.append((time.perf_counter() - start) * 1e3)
            except Exception as error:  # reported after the pull
                failed.append(error)

        thread = threading.Thread(target=pinger)
        thread.start()
        try:
            start = time.perf_counter()
            table = rpyc.classic.obtain(table_fn(rows))
            pull_ms = (time.perf_counter() - start) * 1e3
        finally:
            done.set()
            thread.join()
        if failed:
            raise failed[0]
        check(len(table) == rows and table[-1]["id"] == rows - 1, "pull")
        return {
            "worstPingMs": max(pings),
            "medianPingMs": statistics.median(pings),
            "pullMs": pull_ms,
            "pings": len(pings),
        }

    def delayed(self, port, count):
        """A second connection through 127.0.0.1:port; microseconds per add
        and per inc(inc(inc(1))), three dependent calls and so three round
        trips (RPyC does not pipeline)."""
        conn = rpyc.connect(HOST, port)
        try:
            add = conn.root.add
            inc = conn.root.inc
            check(add(1, 2) == 3 and inc(inc(inc(1))) == 4, "delayed")
            start = time.perf_counter()
            for _ in range(count):
                add(1, 2)
            call = (time.perf_counter() - start) / count * 1e6
            start = time.perf_counter()
            for _ in range(count):
                inc(inc(inc(1)))
            pipelined = (time.perf_counter() - start) / count * 1e6
            del add, inc
            return {"call": call, "pipelined": pipelined}
        finally:
            conn.close()

    def churn(self, n):
        """Creates n remote objects one after another, letting each go as
        the next arrives (RPyC releases by refcount: a netref's __del__ sends
        an async DEL), then counts the server's live exports."""
        gc.collect()
        before = self.netrefs()
        rss_before = self.rss()
        make = self.make
        obj = None
        for _ in range(n):
            obj = make()
        del obj
        gc.collect()
        after = self.netrefs()
        rss_after = self.rss()
        return {
            "exportsBefore": before,
            "exportsAfter": after,
            "rssBefore": rss_before,
            "rssAfter": rss_after,
        }

    def soak(self, n, warmup):
        """n add(1, 2) calls as async bursts of BURST in flight; server RSS
        after the first `warmup` calls and at the end; calls per second over
        the calls alone."""
        first = self._bursts(warmup)
        rss_warm = self.rss()
        rest = self._bursts(n - warmup)
        rss_end = self.rss()
        return {"rssWarm": rss_warm, "rssEnd": rss_end, "callsPerSecond": n / (first + rest)}

    def _bursts(self, n):
        add_async = self.add_async
        start = time.perf_counter()
        done = 0
        while done < n:
            size = min(BURST, n - done)
            results = [add_async(1, 2) for _ in range(size)]
            for result in results:
                result.wait()
            check(results[-1].value == 3, "soak")
            done += size
        return time.perf_counter() - start

    def connect(self, count):
        """Microseconds per rpyc.connect + conn.root.add(1, 2) + close."""
        start = time.perf_counter()
        for _ in range(count):
            conn = rpyc.connect(HOST, self.port)
            result = conn.root.add(1, 2)
            conn.close()
        elapsed = time.perf_counter() - start
        check(result == 3, "connect")
        return elapsed / count * 1e6


def check(ok, what):
    if not ok:
        raise AssertionError(f"wrong result from {what}")


class CountingStream:
    """An RPyC stream that counts the bytes written and read through it
    (SocketStream's own methods cannot be replaced: it has slots)."""

    def __init__(self, stream):
        self.stream = stream
        self.written = 0
        self.read_bytes = 0

    def write(self, data):
        self.written += len(data)
        return self.stream.write(data)

    def read(self, count):
        data = self.stream.read(count)
        self.read_bytes += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self.stream, name)


OPS = (
    "call", "chain", "callback", "throughput", "echo", "pull", "delayed", "churn", "soak", "connect",
    "iterate", "wire_bytes", "getpid",
)


def reply(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main():
    driver = Driver(int(sys.argv[1]))
    reply({"ready": True, "version": rpyc.__version__})
    try:
        while True:
            line = sys.stdin.readline()
            if not line:
                break
            if not line.strip():
                continue
            try:
                command = json.loads(line)
                op = command.pop("op")
                if op not in OPS:
                    raise ValueError(f"unknown op {op!r}")
                reply({"value": getattr(driver, op)(**command)})
            except Exception as error:  # reported to the bench, which throws
                reply({"error": f"{type(error).__name__}: {error}"})
    finally:
        driver.close()


if __name__ == "__main__":
    main()
