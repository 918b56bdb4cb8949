/**
 * The serving end of `upload` and `download`: a few file-system operations a
 * classic service offers so whole trees move in few round trips, and their
 * synchronous counterpart for the local end of a synchronous transfer.
 *
 * @module
 */

/** What a transfer needs to know about a path. */
export interface PathInfo {
  /** "file", "directory" or "other" (devices, sockets, broken links). */
  kind: "file" | "directory" | "other";
  /** Permission bits (`0o755`), or null where the system has none. */
  mode: number | null;
  /** Size in bytes. */
  size: number;
  /** Device and inode (`"dev:ino"`), which tell a directory reached twice; null where unknown. */
  identity: string | null;
}

/** An entry of a directory listing. */
export interface DirectoryEntry {
  /** The entry's name. */
  name: string;
  /** Its kind, links followed. */
  kind: PathInfo["kind"];
}

/**
 * File-system access for transfers, on the end that serves it. Every path is
 * used as given (relative paths from the serving process's working directory).
 */
export class FileAccess {
  readonly #open = new Set<FileChannel>();

  /** Describes `path`, following links. @throws {Deno.errors.NotFound} naming the path. */
  async stat(path: string): Promise<PathInfo> {
    return describe(await Deno.stat(path));
  }

  /** Lists a directory, links followed (a broken link is "other"). */
  async list(path: string): Promise<DirectoryEntry[]> {
    const entries: DirectoryEntry[] = [];
    for await (const entry of Deno.readDir(path)) {
      const kind = entry.isSymlink
        ? await Deno.stat(linkPath(path, entry)).then(describe, () => null).then(linkedKind)
        : unlinkedKind(entry);
      entries.push({ name: entry.name, kind });
    }
    return sortByName(entries);
  }

  /** Creates a directory and its parents; an existing one is fine. */
  async makeDirectory(path: string): Promise<void> {
    await Deno.mkdir(path, { recursive: true });
  }

  /**
   * Sets permission bits (no-op where the system has none). Only the 0o777
   * bits: set-uid, set-gid and sticky bits a peer reports are not copied.
   */
  async setMode(path: string, mode: number | null): Promise<void> {
    const bits = permissionBits(mode);
    if (bits !== null) await Deno.chmod(path, bits);
  }

  /** Opens a file for reading. */
  async openRead(path: string): Promise<FileChannel> {
    return this.#track(await Deno.open(path, READ));
  }

  /** Creates or truncates a file for writing. */
  async openWrite(path: string): Promise<FileChannel> {
    return this.#track(await Deno.open(path, WRITE));
  }

  /** Closes every file still open (the peer went away mid-transfer). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#open].map((channel) => channel.close()));
  }

  #track(file: Deno.FsFile): FileChannel {
    const channel = new FileChannel(file, () => this.#open.delete(channel));
    this.#open.add(channel);
    return channel;
  }
}

/**
 * One open file. Operations run one after another in the order they were
 * asked for, so a peer may pipeline reads or writes without awaiting each.
 * Contract: `close` is idempotent; nothing works after it.
 */
export class FileChannel {
  readonly #file: Deno.FsFile;
  readonly #onClose: () => void;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** Wraps an open file, which is now this channel's to close; `onClose` runs once closed. */
  constructor(file: Deno.FsFile, onClose: () => void = () => {}) {
    this.#file = file;
    this.#onClose = onClose;
  }

  /**
   * Reads up to `max` bytes; null at end of file.
   *
   * @throws {RangeError} unless `max` is a positive integer of at most 64 MiB.
   */
  read(max: number): Promise<Uint8Array | null> {
    try {
      checkReadSize(max);
    } catch (error) {
      // Refused before queueing, as a rejection: callers of a promise API look there.
      return Promise.reject(error);
    }
    return this.#then(async () => {
      const buffer = new Uint8Array(max);
      let filled = 0;
      while (filled < buffer.length) {
        const count = await this.#file.read(buffer.subarray(filled));
        if (count === null || count === 0) break;
        filled += count;
      }
      return filledPart(buffer, filled);
    });
  }

  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): Promise<void> {
    return this.#then(async () => {
      let offset = 0;
      while (offset < bytes.length) offset += await this.#file.write(bytes.subarray(offset));
    });
  }

  /** Closes the file once earlier operations are done. */
  close(): Promise<void> {
    return this.#then(() => {
      if (this.#closed) return;
      this.#closed = true;
      this.#onClose();
      this.#file.close();
    });
  }

  #then<T>(step: () => T | Promise<T>): Promise<T> {
    const run = this.#queue.then(step);
    this.#queue = run.catch(() => {});
    return run;
  }
}

/**
 * A file opened for a synchronous transfer: a {@linkcode FileChannelSync}, or
 * a synchronous netref of a peer's {@linkcode FileChannel}.
 */
export interface SyncChannel {
  /** Reads up to `max` bytes; null at end of file. */
  read(max: number): Uint8Array | null;
  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): void;
  /** Closes the file; idempotent. */
  close(): void;
}

/**
 * {@linkcode FileAccess} answering at once: a {@linkcode FileAccessSync}, or
 * a synchronous netref of a classic server's `files`.
 */
export interface SyncFiles {
  /** Describes `path`, following links. */
  stat(path: string): PathInfo;
  /** Lists a directory, links followed, sorted by name. */
  list(path: string): DirectoryEntry[];
  /** Creates a directory and its parents. */
  makeDirectory(path: string): void;
  /** Sets the 0o777 permission bits of `mode`. */
  setMode(path: string, mode: number | null): void;
  /** Opens a file for reading. */
  openRead(path: string): SyncChannel;
  /** Creates or truncates a file for writing. */
  openWrite(path: string): SyncChannel;
}

/**
 * {@linkcode FileAccess}, blocking: the local end of a synchronous transfer,
 * where the thread waits on the peer anyway. Same answers and errors as
 * `FileAccess`, returned instead of promised.
 */
export class FileAccessSync implements SyncFiles {
  /** Describes `path`, following links. @throws {Deno.errors.NotFound} naming the path. */
  stat(path: string): PathInfo {
    return describe(Deno.statSync(path));
  }

  /** Lists a directory, links followed (a broken link is "other"). */
  list(path: string): DirectoryEntry[] {
    const entries: DirectoryEntry[] = [];
    for (const entry of Deno.readDirSync(path)) {
      let kind: PathInfo["kind"];
      if (entry.isSymlink) {
        let info: PathInfo | null = null;
        try {
          info = describe(Deno.statSync(linkPath(path, entry)));
        } catch {
          // A broken link does not fail the listing: it is listed as "other", as FileAccess does.
        }
        kind = linkedKind(info);
      } else {
        kind = unlinkedKind(entry);
      }
      entries.push({ name: entry.name, kind });
    }
    return sortByName(entries);
  }

  /** Creates a directory and its parents; an existing one is fine. */
  makeDirectory(path: string): void {
    Deno.mkdirSync(path, { recursive: true });
  }

  /** Sets permission bits as {@linkcode FileAccess.setMode} does. */
  setMode(path: string, mode: number | null): void {
    const bits = permissionBits(mode);
    if (bits !== null) Deno.chmodSync(path, bits);
  }

  /** Opens a file for reading. */
  openRead(path: string): FileChannelSync {
    return new FileChannelSync(Deno.openSync(path, READ));
  }

  /** Creates or truncates a file for writing. */
  openWrite(path: string): FileChannelSync {
    return new FileChannelSync(Deno.openSync(path, WRITE));
  }
}

/**
 * One open file, blocking ({@linkcode FileChannel}'s counterpart). Contract:
 * `close` is idempotent; nothing works after it.
 */
export class FileChannelSync implements SyncChannel, Disposable {
  readonly #file: Deno.FsFile;
  #closed = false;

  /** Wraps an open file, which is now this channel's to close. */
  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /**
   * Reads up to `max` bytes; null at end of file.
   *
   * @throws {RangeError} unless `max` is a positive integer of at most 64 MiB.
   */
  read(max: number): Uint8Array | null {
    checkReadSize(max);
    const buffer = new Uint8Array(max);
    let filled = 0;
    while (filled < buffer.length) {
      const count = this.#file.readSync(buffer.subarray(filled));
      if (count === null || count === 0) break;
      filled += count;
    }
    return filledPart(buffer, filled);
  }

  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) offset += this.#file.writeSync(bytes.subarray(offset));
  }

  /** Closes the file. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }

  /** Closes the file (`using channel = ...`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The largest read a peer may ask for at once. */
export const MAX_CHUNK = 64 * 1024 * 1024;

const READ: Deno.OpenOptions = { read: true };
const WRITE: Deno.OpenOptions = { write: true, create: true, truncate: true };

function describe(info: Deno.FileInfo): PathInfo {
  const kind = info.isFile ? "file" : info.isDirectory ? "directory" : "other";
  const identity = info.dev !== null && info.ino !== null ? `${info.dev}:${info.ino}` : null;
  return { kind, mode: info.mode === null ? null : info.mode & 0o7777, size: info.size, identity };
}

/** A listed entry's kind when it is not a link (which must be followed to know). */
function unlinkedKind(entry: Deno.DirEntry): PathInfo["kind"] {
  return entry.isFile ? "file" : entry.isDirectory ? "directory" : "other";
}

/** A link's kind from what it leads to: null for a broken link, which is "other". */
function linkedKind(target: PathInfo | null): PathInfo["kind"] {
  return target?.kind ?? "other";
}

function linkPath(directory: string, entry: Deno.DirEntry): string {
  return `${directory}/${entry.name}`;
}

/** A stable order (the file system's is arbitrary), by code unit so no locale changes it. */
function sortByName(entries: DirectoryEntry[]): DirectoryEntry[] {
  return entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The bits `setMode` applies, or null where there is nothing to set. */
function permissionBits(mode: number | null): number | null {
  // Windows has no such bits (Deno.chmod refuses there); set-uid, set-gid and sticky from a
  // peer are dropped so a copy never mints them.
  return mode !== null && Deno.build.os !== "windows" ? mode & 0o777 : null;
}

/** A peer chooses `max`: refuse what would spin (fractions) or allocate without bound. */
function checkReadSize(max: number): void {
  if (!Number.isSafeInteger(max) || max < 1 || max > MAX_CHUNK) {
    throw new RangeError(`cannot read ${max} bytes at once`);
  }
}

/** What a read filled; null when nothing (end of file). */
function filledPart(buffer: Uint8Array, filled: number): Uint8Array | null {
  return filled === 0 ? null : buffer.subarray(0, filled);
}
