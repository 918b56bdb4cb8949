/**
 * The bench's goals: each check is a figure of the run (a ratio taken round
 * by round, or an absolute figure) against its target, most of them from the
 * issues they came with.
 *
 * @module
 */

import type { Check } from "./report.ts";
import type { Rounds } from "./rounds.ts";
import { ratios, spread } from "./stats.ts";

/** The names of the scenarios whose labels depend on the run's sizes. */
export interface GoalNames {
  /** The big echo: its sample key and its size as shown ("100 MB"). */
  bigEcho: { id: string; label: string };
  /** The pulled table as shown ("45 MB"). */
  pull: string;
}

/** The checks, judged on the run's figures. */
export function goals({ samples, failures }: Rounds, names: GoalNames): Check[] {
  /** A per-round ratio of two series; none when either is missing, and why if one failed. */
  const ratio = (a: string, b: string): Pick<Check, "ratio" | "failed"> => {
    const x = samples.get(a), y = samples.get(b);
    if (x && y) return { ratio: spread(ratios(x, y)) };
    const failed = failures.get(a) ?? failures.get(b);
    return { ratio: undefined, ...(failed ? { failed } : {}) };
  };
  /** The spread of a series itself, for absolute targets. */
  const absolute = (key: string): Pick<Check, "ratio" | "failed"> => {
    const x = samples.get(key);
    if (x) return { ratio: spread(x) };
    const failed = failures.get(key);
    return { ratio: undefined, ...(failed ? { failed } : {}) };
  };
  // The call, the big echo and the ping under a pull carry the targets of the
  // message-layer issue ("A bounded, chunked, fair message layer"): the new
  // layer must not slow the call, and must not let big values stall small ones.
  return [
    { what: "1 rdc call ÷ raw ping-pong", ...ratio("call/rdc", "call/raw"), op: "<=", target: 1.3 },
    {
      what: "1 RPyC call time ÷ rdc call time",
      ...ratio("call/rpyc", "call/rdc"),
      op: ">=",
      target: 8,
    },
    {
      what: "1 Cap'n Web call time ÷ rdc call time",
      ...ratio("call/capnweb", "call/rdc"),
      op: ">=",
      target: 1,
    },
    // The synchronous mode's call blocks in Atomics.wait while an I/O worker
    // thread owns the socket: two thread hand-offs more than an async call.
    {
      what: "1 rdc sync call ÷ rdc async call",
      ...ratio("call-sync/rdc", "call/rdc"),
      op: "<=",
      target: 1.6,
    },
    {
      what: "1 rdc sync call ÷ RPyC call (method fetched once, blocking)",
      ...ratio("call-sync/rdc", "call/rpyc"),
      op: "info",
    },
    {
      what: "1 RPyC root.add(1, 2) as written ÷ rdc",
      ...ratio("written/rpyc", "written/rdc"),
      op: "info",
    },
    { what: "2 rdc chain ÷ rdc call", ...ratio("chain/rdc", "call/rdc"), op: "<=", target: 1.2 },
    {
      what: "3 rdc callback ÷ rdc call",
      ...ratio("callback/rdc", "call/rdc"),
      op: "<=",
      target: 1.5,
    },
    {
      what: "4 rdc calls/s (absolute)",
      ...absolute("throughput/rdc"),
      op: ">=",
      target: 100_000,
    },
    {
      what: "4 rdc calls/s ÷ RPyC calls/s",
      ...ratio("throughput/rdc", "throughput/rpyc"),
      op: ">=",
      target: 8,
    },
    { what: "5 rdc 1 MiB echo ÷ raw", ...ratio("echo1/rdc", "echo1/raw"), op: "info" },
    { what: "5 rdc 16 MiB echo ÷ raw", ...ratio("echo16/rdc", "echo16/raw"), op: "info" },
    {
      what: `5 rdc ${names.bigEcho.label} echo ÷ raw`,
      ...ratio(`${names.bigEcho.id}/rdc`, `${names.bigEcho.id}/raw`),
      op: ">=",
      target: 0.8,
    },
    {
      what: `5 rdc ${names.bigEcho.label} echo ÷ raw with fresh buffers (a value echo's floor)`,
      ...ratio(`${names.bigEcho.id}/rdc`, `${names.bigEcho.id}-fresh/raw`),
      op: "info",
    },
    {
      what: "5 rdc 16 MiB echo, MiB/s out + back (absolute)",
      ...absolute("echo16/rdc"),
      op: ">=",
      target: 1024,
    },
    {
      what: "6 rdc pipelined ÷ one call, 5 ms link",
      ...ratio("delayed-pipelined/rdc", "delayed-call/rdc"),
      op: "<=",
      target: 1.3,
    },
    {
      what: "6 RPyC pipelined ÷ one call, 5 ms link",
      ...ratio("delayed-pipelined/rpyc", "delayed-call/rpyc"),
      op: "info",
    },
    {
      what: "6 Cap'n Web pipelined ÷ one call, 5 ms link",
      ...ratio("delayed-pipelined/capnweb", "delayed-call/capnweb"),
      op: "info",
    },
    {
      what: "5 rdc 16 MiB echo with transfer() ÷ raw",
      ...ratio("echo16-transfer/rdc", "echo16-transfer/raw"),
      op: ">=",
      target: 0.9,
    },
    {
      what: "13 rdc iteration of 10 000 items ÷ copying them by value",
      ...ratio("iterate/rdc", "iterate-copy/rdc"),
      op: "<=",
      target: 3,
    },
    {
      what: "13 RPyC buffiter ÷ rdc iteration",
      ...ratio("iterate/rpyc", "iterate/rdc"),
      op: "info",
    },
    {
      what: "14 rdc 20-chunk stream ÷ Cap'n Web, 25 ms link",
      ...ratio("stream/rdc", "stream/capnweb"),
      op: "<=",
      target: 1.2,
    },
    {
      what: "15 rdc bytes on the wire ÷ RPyC, 1 MB repetitive string echo",
      ...ratio("wire-text/rdc", "wire-text/rpyc"),
      op: "info",
    },
    {
      what: "15 rdc bytes on the wire with deflate ÷ with zstd, same echo",
      ...ratio("wire-text-deflate/rdc", "wire-text/rdc"),
      op: "info",
    },
    {
      what: "15 rdc echo time with zstd ÷ uncompressed, loopback",
      ...ratio("text-echo-zstd/rdc", "text-echo-off/rdc"),
      op: "info",
    },
    {
      what: "15 rdc echo time with deflate ÷ uncompressed, loopback",
      ...ratio("text-echo-deflate/rdc", "text-echo-off/rdc"),
      op: "info",
    },
    {
      what: "16 Deno → RPyC os.getpid() ÷ RPyC's own client, same server",
      ...ratio("py-getpid/deno", "py-getpid/rpyc"),
      op: "<=",
      target: 1,
    },
    {
      what: "16 classic connect to RPyC from Deno, round trips (absolute)",
      ...absolute("py-connect/deno"),
      op: "<=",
      target: 2,
    },
    { what: "9 rdc connect + call ÷ raw", ...ratio("connect/rdc", "connect/raw"), op: "info" },
    { what: "9 RPyC connect + call ÷ rdc", ...ratio("connect/rpyc", "connect/rdc"), op: "info" },
    {
      what: `10 worst ping during a ${names.pull} pull (ms)`,
      ...absolute("pull-worst/rdc"),
      op: "<=",
      target: 20,
    },
    {
      what: "10 floor: worst ping while plain Deno builds the rows in slices (ms)",
      ...absolute("pull-worst/raw"),
      op: "info",
    },
    { what: "10 RPyC worst ping during the pull (ms)", ...absolute("pull-worst/rpyc"), op: "info" },
    {
      what: "11 rdc call over a Worker ÷ bare postMessage ping-pong",
      ...ratio("worker/rdc", "worker/raw"),
      op: "<=",
      target: 1.5,
    },
    {
      what: "11 rdc call over a MessagePort ÷ bare postMessage ping-pong",
      ...ratio("port/rdc", "port/raw"),
      op: "<=",
      target: 1.5,
    },
    {
      what: "11 rdc call over a WebSocket ÷ raw WebSocket ping-pong",
      ...ratio("websocket/rdc", "websocket/raw"),
      op: "<=",
      target: 1.5,
    },
  ];
}
