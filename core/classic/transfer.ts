/**
 * `upload` and `download` (RPyC's `classic.upload`/`download`): copying files
 * and whole directories between this process and a classic server, binary
 * safe, permission bits kept, large files streamed in chunks. Each comes
 * twice, over an asynchronous connection and over a synchronous one.
 *
 * The copy is written once, as generators that yield each file-system
 * operation's result (a value, or a promise of one) and get the value back:
 * the asynchronous runner awaits it, the synchronous one hands it straight
 * back. Both variants therefore check, order and refuse exactly alike.
 *
 * @module
 */

import { join } from "node:path";
import {
  type DirectoryEntry,
  FileAccess,
  FileAccessSync,
  type PathInfo,
  type SyncFiles,
} from "./files.ts";

/** Options of `upload` and `download`. */
export interface TransferOptions {
  /**
   * Bytes per chunk, a whole number from 1 to 16 MiB.
   *
   * @default {1 MiB}
   */
  chunkSize?: number;
  /**
   * Decides which paths are copied (RPyC's `filter`): called with each source
   * path under a directory being copied; false skips it (and a directory's
   * contents).
   *
   * @default {undefined} (everything)
   */
  filter?: (path: string) => boolean;
}

const DEFAULT_CHUNK = 1024 * 1024;
/** The largest chunk: well inside the default frame limit of 64 MiB. */
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

/** A side operation's result: at once (synchronous side) or later (asynchronous side). */
type Step<T> = T | Promise<T>;

/** An open file, as the copy uses it on either end. */
interface Channel {
  read(max: number): Step<Uint8Array | null>;
  write(bytes: Uint8Array): Step<void>;
  close(): Step<void>;
}

/** The two ends of a transfer, in the terms both sides share. */
interface Side {
  stat(path: string): Step<PathInfo>;
  list(path: string): Step<DirectoryEntry[]>;
  makeDirectory(path: string): Step<void>;
  setMode(path: string, mode: number | null): Step<void>;
  openRead(path: string): Step<Pick<Channel, "read" | "close">>;
  openWrite(path: string): Step<Pick<Channel, "write" | "close">>;
}

/**
 * A copy in progress: yields each side operation's `Step`, and is resumed
 * with its value (or thrown its error) by a runner.
 */
type Algorithm<T> = Generator<Step<unknown>, T, unknown>;

/**
 * Copies `localPath` (a file or a directory tree) to `remotePath` on the peer.
 *
 * @throws {Deno.errors.NotFound} naming `localPath` when it does not exist.
 * @throws {RangeError} for a `chunkSize` that is not a whole number from 1 to 16 MiB.
 */
export function upload(
  remote: FileAccess,
  localPath: string,
  remotePath: string,
  options: TransferOptions = {},
): Promise<void> {
  return runAsync(copy(new FileAccess(), remote, localPath, remotePath, options, UPLOAD));
}

/**
 * Copies `remotePath` (a file or a directory tree) on the peer to `localPath`.
 *
 * @throws {Deno.errors.NotFound} naming `remotePath` when it does not exist there.
 * @throws {RangeError} for a `chunkSize` that is not a whole number from 1 to 16 MiB.
 */
export function download(
  remote: FileAccess,
  remotePath: string,
  localPath: string,
  options: TransferOptions = {},
): Promise<void> {
  return runAsync(copy(remote, new FileAccess(), remotePath, localPath, options, DOWNLOAD));
}

/**
 * {@linkcode upload} over a synchronous connection: `remote` is a
 * synchronous netref of a classic server's `files`, and the copy blocks
 * until done.
 *
 * @throws {Deno.errors.NotFound} naming `localPath` when it does not exist.
 * @throws {RangeError} for a `chunkSize` that is not a whole number from 1 to 16 MiB.
 */
export function uploadSync(
  remote: SyncFiles,
  localPath: string,
  remotePath: string,
  options: TransferOptions = {},
): void {
  runSync(copy(new FileAccessSync(), remote, localPath, remotePath, options, UPLOAD));
}

/**
 * {@linkcode download} over a synchronous connection: `remote` is a
 * synchronous netref of a classic server's `files`, and the copy blocks
 * until done.
 *
 * @throws {Deno.errors.NotFound} naming `remotePath` when it does not exist there.
 * @throws {RangeError} for a `chunkSize` that is not a whole number from 1 to 16 MiB.
 */
export function downloadSync(
  remote: SyncFiles,
  remotePath: string,
  localPath: string,
  options: TransferOptions = {},
): void {
  runSync(copy(remote, new FileAccessSync(), remotePath, localPath, options, DOWNLOAD));
}

/** How a missing source is reported, by direction. */
interface Direction {
  verb: string;
  /** Where the source was looked for, as the end of the message. */
  where: string;
}

const UPLOAD: Direction = { verb: "upload", where: "" };
const DOWNLOAD: Direction = { verb: "download", where: " on the remote end" };

/** Runs a copy against asynchronous sides: each step is awaited before the copy resumes. */
async function runAsync<T>(algorithm: Algorithm<T>): Promise<T> {
  let next = algorithm.next();
  while (!next.done) {
    let value: unknown;
    try {
      value = await next.value;
    } catch (error) {
      // Into the generator, so its try/finally blocks close what it opened.
      next = algorithm.throw(error);
      continue;
    }
    next = algorithm.next(value);
  }
  return next.value;
}

/**
 * Runs a copy against synchronous sides: every step is its value already
 * (a side's error was thrown inside the generator, where it was called).
 */
function runSync<T>(algorithm: Algorithm<T>): T {
  let next = algorithm.next();
  while (!next.done) {
    const value = next.value;
    if (value instanceof Promise) {
      // An asynchronous side in a synchronous copy would let it race ahead of its own writes.
      value.catch(() => {});
      next = algorithm.throw(
        new TypeError("a synchronous transfer got a promise: pass a synchronous netref"),
      );
      continue;
    }
    next = algorithm.next(value);
  }
  return next.value;
}

/** One side operation inside the copy: its step goes to the runner, its value comes back. */
function* use<T>(step: Step<T>): Generator<Step<unknown>, T, unknown> {
  return (yield step) as T;
}

function* copy(
  from: Side,
  to: Side,
  source: string,
  target: string,
  options: TransferOptions,
  direction: Direction,
): Algorithm<void> {
  let info: PathInfo;
  try {
    info = yield* use(from.stat(source));
  } catch (error) {
    if (!isNotFound(error)) throw error;
    throw new Deno.errors.NotFound(
      `cannot ${direction.verb} '${source}': no such file or directory${direction.where}`,
      { cause: error },
    );
  }
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(
      `chunkSize must be a whole number of bytes from 1 to ${MAX_CHUNK_SIZE}, not ${chunkSize}`,
    );
  }
  const filter = options.filter ?? (() => true);
  yield* copyPath({ from, to, chunkSize, filter, ancestors: new Set() }, source, target, info);
}

/** What every step of one copy shares. */
interface Copy {
  from: Side;
  to: Side;
  chunkSize: number;
  filter: (path: string) => boolean;
  /** The directories being copied above this point, by identity: a link back to one is a cycle. */
  ancestors: Set<string>;
}

function* copyPath(copy: Copy, source: string, target: string, info: PathInfo): Algorithm<void> {
  const { from, to } = copy;
  switch (info.kind) {
    case "file":
      yield* copyFile(from, to, source, target, copy.chunkSize);
      yield* use(to.setMode(target, info.mode));
      return;
    case "directory": {
      // A link back to a directory being copied would repeat it forever: skip it.
      const identity = typeof info.identity === "string" ? info.identity : null;
      if (identity !== null && copy.ancestors.has(identity)) return;
      if (identity !== null) copy.ancestors.add(identity);
      yield* use(to.makeDirectory(target));
      for (const entry of yield* use(from.list(source))) {
        checkEntryName(entry.name, source);
        const path = join(source, entry.name);
        if (entry.kind === "other" || !copy.filter(path)) continue;
        yield* copyPath(copy, path, join(target, entry.name), yield* use(from.stat(path)));
      }
      if (identity !== null) copy.ancestors.delete(identity);
      // Last, so a read-only directory still received its contents.
      yield* use(to.setMode(target, info.mode));
      return;
    }
    case "other":
      throw new TypeError(`cannot copy '${source}': not a file or a directory`);
    default:
      info.kind satisfies never;
      // A peer may report anything at all.
      throw new TypeError(`cannot copy '${source}': unknown kind ${JSON.stringify(info.kind)}`);
  }
}

/**
 * Refuses a listed name that is not one plain path segment: a peer that
 * lists `../x` must not make us write outside the target.
 */
function checkEntryName(name: string, directory: string): void {
  if (name === "" || name === "." || name === ".." || /[/\\\0]/.test(name)) {
    throw new TypeError(
      `refusing to copy ${JSON.stringify(name)} listed in '${directory}': not a plain file name`,
    );
  }
}

/**
 * Streams one file. Each write is yielded only after the next read, so on
 * asynchronous sides the next chunk is read while the previous one is
 * written (synchronous sides have done each write by then anyway).
 */
function* copyFile(
  from: Side,
  to: Side,
  source: string,
  target: string,
  chunkSize: number,
): Algorithm<void> {
  const reader = yield* use(from.openRead(source));
  try {
    const writer = yield* use(to.openWrite(target));
    try {
      let writing: Step<void> = undefined;
      for (
        let chunk = yield* use(reader.read(chunkSize));
        chunk;
        chunk = yield* use(reader.read(chunkSize))
      ) {
        yield* use(writing);
        writing = writer.write(chunk);
      }
      yield* use(writing);
    } finally {
      yield* use(writer.close());
    }
  } finally {
    yield* use(reader.close());
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound ||
    (error instanceof Error && error.name === "NotFound");
}

/**
 * Refuses a download chunk size the connection could not receive: each
 * chunk arrives in one message, which must fit this end's `maxMessageSize`.
 *
 * @throws {RangeError} naming both sizes.
 */
export function checkDownloadChunk(
  options: TransferOptions | undefined,
  maxMessageSize: number,
): void {
  const chunkSize = options?.chunkSize;
  if (chunkSize !== undefined && chunkSize > maxMessageSize - 1024) {
    throw new RangeError(
      `chunkSize ${chunkSize} does not fit this connection's maxMessageSize ` +
        `(${maxMessageSize} bytes)`,
    );
  }
}
