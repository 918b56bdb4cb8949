/**
 * The synchronous mode: netrefs on which plain synchronous code works, each
 * use blocking until the peer answers (RPyC's defining behaviour). The
 * sockets live in one I/O worker per process; the objects, the protocol
 * engine and the proxies stay on the calling thread, which blocks in
 * `Atomics.wait` and serves the peer's callbacks while it waits.
 *
 * @module
 */

export {
  connectSubprocessSync,
  connectSync,
  connectTlsSync,
  connectUnixSync,
  type SubprocessSyncOptions,
  type SyncConnectionOptions,
} from "./connect.ts";
export { SyncConnection } from "./connection.ts";
export { isSyncNetref } from "./proxy.ts";
