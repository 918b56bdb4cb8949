/**
 * Classic mode (RPyC's `rpyc.classic`): a server that hands its whole process
 * to trusted clients, and the functions that connect to one.
 *
 * @module
 */

export {
  connect,
  connectStream,
  connectSubprocess,
  connectSubprocessSync,
  connectSync,
  connectTls,
  connectTlsSync,
  connectUnix,
  connectUnixSync,
  connectWebSocket,
  DEFAULT_PORT,
  DEFAULT_TLS_PORT,
  defaultServerCommand,
  serve,
  serveStdio,
} from "./connect.ts";
export { servePool } from "./pool.ts";
export { ClassicConnection, type ConsoleRedirect, type RedirectOptions } from "./connection.ts";
export { ClassicService } from "./service.ts";
export { SyncClassicConnection } from "./sync_connection.ts";
export type { ConsoleStream } from "./console_capture.ts";
export { type DirectoryEntry, FileAccess, FileChannel, type PathInfo } from "./files.ts";
export type { TransferOptions } from "./transfer.ts";
export { obtain } from "../netref/helpers.ts";
