/**
 * A TCP proxy on loopback that delays every byte by a fixed time in each
 * direction: a stand-in for a link with latency, for the pipelining scenario.
 *
 * @module
 */

/** A running proxy; `close()` stops it and every connection through it. */
export interface DelayProxy extends AsyncDisposable {
  /** The port to connect to instead of the target's. */
  readonly port: number;
  /** Stops listening and closes every relayed connection. */
  close(): Promise<void>;
}

/**
 * Listens on a free loopback port and relays each connection to
 * 127.0.0.1:`target`, holding every chunk `delayMs` before passing it on.
 * Order is kept; chunks are not split or joined.
 */
export function startDelayProxy(target: number, delayMs: number): DelayProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const relays = new Set<Promise<void>>();
  const accepting = (async () => {
    try {
      for await (const client of listener) {
        const relay = (async () => {
          const server = await Deno.connect({ hostname: "127.0.0.1", port: target });
          for (const conn of [client, server]) {
            conn.setNoDelay(true);
            open.add(conn);
          }
          await Promise.allSettled([pump(client, server, delayMs), pump(server, client, delayMs)]);
          for (const conn of [client, server]) {
            open.delete(conn);
            try {
              conn.close();
            } catch {
              // Closed by the other direction.
            }
          }
        })();
        relays.add(relay);
        relay.finally(() => relays.delete(relay));
      }
    } catch {
      // The listener closed.
    }
  })();
  const close = async () => {
    listener.close();
    for (const conn of open) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await accepting;
    await Promise.allSettled(relays);
  };
  return { port: (listener.addr as Deno.NetAddr).port, close, [Symbol.asyncDispose]: close };
}

/** Copies `from` to `to`, each chunk written `delayMs` after it was read. */
async function pump(from: Deno.Conn, to: Deno.Conn, delayMs: number): Promise<void> {
  const queue: { due: number; bytes: Uint8Array }[] = [];
  let wake = null as (() => void) | null;
  let ended = false;
  const writer = (async () => {
    while (true) {
      const next = queue.shift();
      if (!next) {
        if (ended) return;
        await new Promise<void>((resolve) => wake = resolve);
        continue;
      }
      const wait = next.due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      for (let offset = 0; offset < next.bytes.length;) {
        offset += await to.write(next.bytes.subarray(offset));
      }
    }
  })();
  try {
    const buffer = new Uint8Array(256 * 1024);
    while (true) {
      const count = await from.read(buffer);
      if (count === null) break;
      queue.push({ due: performance.now() + delayMs, bytes: buffer.slice(0, count) });
      wake?.();
      wake = null;
    }
  } catch {
    // Either side went away.
  } finally {
    ended = true;
    wake?.();
    await writer.catch(() => {});
    // Already closed, maybe: either way this direction is done.
    await Promise.resolve().then(() => (to as Deno.TcpConn).closeWrite()).catch(() => {});
  }
}
