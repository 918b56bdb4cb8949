/**
 * The options of a connection to (or from) a Python RPyC peer.
 *
 * @module
 */

import type { Policy } from "../session/policy.ts";
import type { Logger } from "../log.ts";
import type { WireVersion } from "./envelope.ts";

/** Options every connection with a Python peer takes. */
export interface PythonOptions extends Policy {
  /**
   * What the Python peer reaches with `conn.root` (GETROOT): an object (a
   * `Service`, say) or a class to instantiate per connection. Its
   * `onConnect(conn)` and `onDisconnect(conn)`, when present, are called.
   * Default: an empty object.
   */
  service?: object | (new () => object);
  /** Milliseconds before a request to Python fails with `TimeoutError` (0 = never). @default 30000 */
  timeout?: number;
  /** `"auto"`: a Python `int` is a `number` when safe, else a `bigint`; `"bigint"`: always. @default "auto" */
  ints?: "auto" | "bigint";
  /** `"number"`: a Python `float` is a number; `"wrap"`: a `PyFloat`. @default "number" */
  floats?: "number" | "wrap";
  /** Largest frame accepted, before and after decompression, in bytes. @default 67108864 (64 MiB) */
  maxFrameSize?: number;
  /** Deepest tuple nesting accepted in one message. @default 256 */
  maxDepth?: number;
  /** Most values in one message. @default 10000000 */
  maxElements?: number;
  /** Bytes held for frames being read at once. @default 134217728 (128 MiB) */
  maxInboundBytes?: number;
  /** Where log lines go. @default warnings and errors on stderr */
  logger?: Logger;
}

/** Options of a connection this end opens to a Python server. */
export interface PythonConnectOptions extends PythonOptions {
  /**
   * The envelope to speak: RPyC 5.x (4.1–5.3) or 6.x, or `"auto"` to find
   * out (a 6.x probe first; a 5.x server answers it by hanging up, and the
   * connection is made again in 5.x). The result is remembered per address
   * within the process. Pin it in production: the probe costs a 5.x server a
   * traceback in its log. @default "auto"
   */
  version?: WireVersion | "auto";
  /** Milliseconds to wait for the server's first answer (and a TLS handshake). @default 10000 */
  handshakeTimeout?: number;
}

/** Every option filled in. */
export interface ResolvedPythonOptions {
  timeout: number;
  ints: "auto" | "bigint";
  floats: "number" | "wrap";
  maxFrameSize: number;
  maxDepth: number;
  maxElements: number;
  maxInboundBytes: number;
}

/**
 * The defaults filled in.
 *
 * @throws {RangeError} when `maxInboundBytes` cannot hold one frame of `maxFrameSize`.
 */
export function resolvePythonOptions(options: PythonOptions): ResolvedPythonOptions {
  const resolved = {
    timeout: options.timeout ?? 30_000,
    ints: options.ints ?? "auto",
    floats: options.floats ?? "number",
    maxFrameSize: options.maxFrameSize ?? 64 * 1024 * 1024,
    maxDepth: options.maxDepth ?? 256,
    maxElements: options.maxElements ?? 10_000_000,
    maxInboundBytes: options.maxInboundBytes ?? 128 * 1024 * 1024,
  };
  // A frame is held whole (header and trailer included) while it is read.
  if (resolved.maxInboundBytes < resolved.maxFrameSize + 6) {
    throw new RangeError(
      `maxInboundBytes (${resolved.maxInboundBytes}) must hold a frame of maxFrameSize ` +
        `(${resolved.maxFrameSize}) plus its 6 bytes of framing`,
    );
  }
  return resolved;
}
