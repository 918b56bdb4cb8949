/**
 * `upload` and `download` (RPyC's `classic.upload`/`download`): copying files
 * and whole directories between this process and a classic server, binary
 * safe, permission bits kept, large files streamed in chunks.
 *
 * @module
 */

import { join } from "node:path";
import { type DirectoryEntry, FileAccess, type FileChannel, type PathInfo } from "./files.ts";

/** Options of `upload` and `download`. */
export interface TransferOptions {
  /** Bytes per chunk, a whole number from 1 to 16 MiB. Default 1 MiB. */
  chunkSize?: number;
  /**
   * Decides which paths are copied (RPyC's `filter`): called with each source
   * path under a directory being copied; false skips it (and a directory's
   * contents). Default: everything.
   */
  filter?: (path: string) => boolean;
}

const DEFAULT_CHUNK = 1024 * 1024;
/** The largest chunk: well inside the default frame limit of 64 MiB. */
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

/** The two ends of a transfer, in the terms both sides share. */
interface Side {
  stat(path: string): Promise<PathInfo>;
  list(path: string): Promise<DirectoryEntry[]>;
  makeDirectory(path: string): Promise<void>;
  setMode(path: string, mode: number | null): Promise<void>;
  openRead(path: string): Promise<Pick<FileChannel, "read" | "close">>;
  openWrite(path: string): Promise<Pick<FileChannel, "write" | "close">>;
}

/**
 * Copies `localPath` (a file or a directory tree) to `remotePath` on the peer.
 *
 * @throws {Deno.errors.NotFound} naming `localPath` when it does not exist.
 */
export async function upload(
  remote: FileAccess,
  localPath: string,
  remotePath: string,
  options: TransferOptions = {},
): Promise<void> {
  await copy(
    new FileAccess(),
    remote as unknown as Side,
    localPath,
    remotePath,
    options,
    "upload",
    "",
  );
}

/**
 * Copies `remotePath` (a file or a directory tree) on the peer to `localPath`.
 *
 * @throws {Deno.errors.NotFound} naming `remotePath` when it does not exist there.
 */
export async function download(
  remote: FileAccess,
  remotePath: string,
  localPath: string,
  options: TransferOptions = {},
): Promise<void> {
  await copy(
    remote as unknown as Side,
    new FileAccess(),
    remotePath,
    localPath,
    options,
    "download",
    " on the remote end",
  );
}

async function copy(
  from: Side,
  to: Side,
  source: string,
  target: string,
  options: TransferOptions,
  verb: string,
  where: string,
): Promise<void> {
  let info: PathInfo;
  try {
    info = await from.stat(source);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    throw new Deno.errors.NotFound(
      `cannot ${verb} '${source}': no such file or directory${where}`,
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
  await copyPath({ from, to, chunkSize, filter, ancestors: new Set() }, source, target, info);
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

async function copyPath(copy: Copy, source: string, target: string, info: PathInfo) {
  const { from, to } = copy;
  switch (info.kind) {
    case "file":
      await copyFile(from, to, source, target, copy.chunkSize);
      await to.setMode(target, info.mode);
      return;
    case "directory": {
      // A link back to a directory being copied would repeat it forever: skip it.
      const identity = typeof info.identity === "string" ? info.identity : null;
      if (identity !== null && copy.ancestors.has(identity)) return;
      if (identity !== null) copy.ancestors.add(identity);
      await to.makeDirectory(target);
      for (const entry of await from.list(source)) {
        checkEntryName(entry.name, source);
        const path = join(source, entry.name);
        if (entry.kind === "other" || !copy.filter(path)) continue;
        await copyPath(copy, path, join(target, entry.name), await from.stat(path));
      }
      if (identity !== null) copy.ancestors.delete(identity);
      // Last, so a read-only directory still received its contents.
      await to.setMode(target, info.mode);
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

/** Streams one file; the next chunk is read while the previous one is written. */
async function copyFile(
  from: Side,
  to: Side,
  source: string,
  target: string,
  chunkSize: number,
): Promise<void> {
  const reader = await from.openRead(source);
  try {
    const writer = await to.openWrite(target);
    try {
      let writing: Promise<void> = Promise.resolve();
      for (let chunk = await reader.read(chunkSize); chunk; chunk = await reader.read(chunkSize)) {
        await writing;
        writing = writer.write(chunk);
      }
      await writing;
    } finally {
      await writer.close();
    }
  } finally {
    await reader.close();
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound ||
    (error instanceof Error && error.name === "NotFound");
}
