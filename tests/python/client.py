"""A Python RPyC client of a Deno server, for rdc's interop tests.

    python3 client.py service PORT   # a Deno service with allowPublicAttrs
    python3 client.py plain PORT     # the same service under the default policy
    python3 client.py classic PORT   # python.classic.serve

prints one JSON object with what it saw.
"""
import gc
import json
import os
import sys

import rpyc


def service(port):
    out = {}
    conn = rpyc.connect("127.0.0.1", port)
    root = conn.root
    out["add"] = root.add(1, 2)
    out["big"] = str(root.echo(2**100))
    out["echo"] = repr(root.echo((1.0, b"x", "s", None, (1, 2), frozenset([3]))))
    out["slow_add"] = root.slow_add(1, 2)
    counter = root.counter
    counter.incr()
    counter.incr(5)
    out["counter"] = [counter.value, type(counter).__name__, repr(counter)]
    items = root.get_list()
    out["list"] = [isinstance(items, list), len(items), items[1], items[-1], 20 in items]
    items.append(40)
    out["list_after"] = list(items)
    mapping = root.get_map()
    out["map"] = [isinstance(mapping, dict), mapping["a"], len(mapping), sorted(mapping.keys()),
                  "a" in mapping, mapping.get("zz", "default")]
    try:
        mapping["missing"]
    except KeyError as e:
        out["map_missing"] = [type(e).__name__, e.args[0]]
    failures = []
    for kind in ("type", "key", "range", "other"):
        try:
            root.fail(kind)
        except Exception as e:
            failures.append([type(e).__name__, e.args[0]])
    out["failures"] = failures
    out["call_me"] = root.call_me(lambda x: x * 10, 4)
    try:
        root._secret
    except AttributeError as e:
        out["secret"] = e.args[0]
    out["hasattr"] = [hasattr(root, "add"), hasattr(root, "missing")]
    out["dir"] = "add" in dir(root)
    out["eq"] = [root.counter == root.counter, hash(root.counter) == hash(root.counter)]
    def again(n):
        return root.bounce(again, n)
    out["chain"] = root.bounce(again, 10)
    out["frames"] = [len(root.echo(os.urandom(n))) for n in (3000, 3001, 64000, 64001, 1 << 20)]
    with root.resource("quiet") as r:
        out["with_inside"] = r.name
    try:
        with root.resource("loud"):
            raise ValueError("boom")
    except ValueError as e:
        out["with_raised"] = e.args[0]
    out["disposals"] = [list(d) for d in root.disposals]
    try:
        with root.counter:
            pass
    except Exception as e:
        out["with_plain"] = [type(e).__name__, str(e)]
    try:
        root.counter.__exit__(None, None, None)  # CTXEXIT itself
    except AttributeError as e:
        out["exit_plain"] = e.args[0]
    del r
    del counter, items, mapping
    gc.collect()
    out["exports"] = root.exports()
    conn.close()
    return out


def plain(port):
    """A Deno service under rdc's default policy: exposed_ members only."""
    out = {}
    conn = rpyc.connect("127.0.0.1", port)
    root = conn.root
    out["add"] = root.add(1, 2)
    counter = root.counter
    try:
        counter.incr()
    except AttributeError as e:
        out["incr"] = e.args[0]
    out["list"] = len(root.get_list())
    out["hasattr"] = [hasattr(root, "add"), hasattr(root, "exposed_add"), hasattr(root, "_secret"),
                      hasattr(root, "constructor"), hasattr(root, "__proto__")]
    out["after"] = root.add(2, 2)
    conn.close()
    return out


def classic(port):
    out = {}
    k = rpyc.classic.connect("127.0.0.1", port)
    out["eval"] = str(k.eval("2n ** 100n"))
    k.execute("globalThis.hits = 0; this.hit = () => ++globalThis.hits")
    out["hits"] = k.eval("hit() + hit()")
    out["hostname"] = k.modules["node:os"].hostname()
    out["max"] = k.builtins.Math.max(3, 9)
    out["contains"] = "node:path" in k.modules
    k.close()
    return out


MODES = {"service": service, "plain": plain, "classic": classic}
print(json.dumps(MODES[sys.argv[1]](int(sys.argv[2]))))
