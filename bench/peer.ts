/**
 * What the bench asks of every system it measures: rdc, Python RPyC and
 * Cap'n Web each implement {@linkcode Peer}, and each scenario is timed for
 * every peer in the same round, beside the same baselines.
 *
 * Every peer runs its server in a separate process on 127.0.0.1, with the
 * same service shape:
 * - `add(a, b)` → `a + b`; `inc(x)` → `x + 1` (for pipelining);
 * - a chain of property reads ending in a call that joins two path parts
 *   (rdc and RPyC: their classic `modules` reach to `path.posix.join`);
 * - `echo(bytes)` → the same bytes;
 * - `items(n)` → the numbers `0 … n - 1`, one at a time (a generator);
 * - `consume(stream)` → the number of chunks of a stream the client passed;
 * - `callback(fn, count)`: calls the client's `fn` `count` times one after
 *   another and returns the microseconds per call, as the server measured;
 * - `make()` → a new object that travels by reference (for churn);
 * - `table(rows)` → `rows` plain row objects (`table.ts`), built once and kept,
 *   so that a pull measures moving the value rather than making it;
 * - `rss()` → the server process's resident set size in bytes.
 *
 * A method a peer cannot do is left out; the table shows "n/a".
 *
 * @module
 */

/** Live remote objects and memory around a churn of `n` objects. */
export interface ChurnResult {
  /** Objects the server exported to this client before the churn. */
  exportsBefore: number;
  /** The same once the client dropped everything and collected its garbage. */
  exportsAfter: number;
  /** Server RSS in bytes before the churn. */
  rssBefore: number;
  /** Server RSS in bytes after it. */
  rssAfter: number;
}

/** Memory over a long run of calls. */
export interface SoakResult {
  /** Server RSS in bytes once the warm-up calls are done. */
  rssWarm: number;
  /** Server RSS in bytes at the end. */
  rssEnd: number;
  /** Calls per second over the whole run. */
  callsPerSecond: number;
}

/**
 * Pings on a second connection while the first pulls a big table, both
 * connections from the same client process.
 */
export interface PullResult {
  /** The slowest ping's round trip, in milliseconds, as the client saw it. */
  worstPingMs: number;
  /** The median ping's round trip, in milliseconds. */
  medianPingMs: number;
  /** How long the pull took, in milliseconds. */
  pullMs: number;
  /** Pings completed while the pull ran. */
  pings: number;
  /** Bytes the pulling connection read for the table (frame headers included), where known. */
  bytes?: number;
}

/** Timings over a link that delays each direction (the bench's delay proxy). */
export interface DelayedResult {
  /** Microseconds per single `add` call. */
  call: number;
  /** Microseconds per three dependent calls, `inc(inc(inc(1)))`. */
  pipelined: number;
}

/**
 * One system under test, driven from the bench process. Each timing method
 * runs its operation one after another (unless it says otherwise) and
 * returns a median-free figure for that batch; the bench takes medians over
 * rounds. Contract: methods are never called concurrently; `close` is
 * idempotent and leaves no process behind.
 */
export interface Peer extends AsyncDisposable {
  /** Short name for the table: "rdc", "rpyc", "capnweb". */
  readonly name: string;
  /** The TCP port of its server on 127.0.0.1 (the delay proxy forwards to it). */
  readonly port: number;
  /**
   * Microseconds per `add(1, 2)` over a batch of at least `ms`, with the
   * method fetched once where the peer needs that for one round trip.
   */
  call(ms: number): Promise<number>;
  /**
   * Microseconds per `root.add(1, 2)` written out in the loop, as in the
   * issue's scenario; for rdc and Cap'n Web the same as `call` (one round
   * trip), for RPyC an attribute read plus a call.
   */
  callAsWritten?(ms: number): Promise<number>;
  /** Microseconds per chain of reads ending in `join("a", "b")`, over at least `ms`. */
  chain?(ms: number): Promise<number>;
  /** Microseconds per server-to-client call, as the server timed `count` of them. */
  callback?(count: number): Promise<number>;
  /** Calls per second with `n` `add` calls started at once. */
  throughput?(n: number): Promise<number>;
  /** Microseconds per echo of a byte array of `size` bytes, over `count` echoes. */
  echo?(size: number, count: number): Promise<number>;
  /**
   * Why an echo of `size` bytes is left out for this peer (the bench prints
   * the reason), or undefined when it runs.
   */
  echoSkip?(size: number): string | undefined;
  /**
   * Opens two connections; on the first pulls `table(rows)` by value while
   * the second pings back to back, each ping awaited before the next.
   */
  pull?(rows: number): Promise<PullResult>;
  /**
   * Microseconds per iteration of the server's `items(n)` (the numbers
   * `0 … n - 1`, produced one at a time), `count` times: rdc's `for await`,
   * RPyC's `buffiter`.
   */
  iterate?(n: number, count: number): Promise<number>;
  /** Bytes on the wire, both ways, for one echo of `text`, compressed where the peer can. */
  wireBytes?(text: string): Promise<number>;
  /**
   * Microseconds per `consume(stream)` of a `chunks`-chunk `ReadableStream`
   * through 127.0.0.1:`port` (a proxy in front of this peer's server), `count` times.
   */
  streamDelayed?(port: number, chunks: number, count: number): Promise<number>;
  /** Timings through 127.0.0.1:`port`, a proxy in front of this peer's server. */
  delayed?(port: number, count: number): Promise<DelayedResult>;
  /** Creates and drops `n` remote objects. */
  churn?(n: number): Promise<ChurnResult>;
  /** Makes `n` calls (`warmup` of them first, then the rest), in bursts. */
  soak?(n: number, warmup: number): Promise<SoakResult>;
  /** Microseconds per new connection and its first `add` call, over `count`. */
  connect?(count: number): Promise<number>;
  /** Stops the client and the server process. */
  close(): Promise<void>;
}
