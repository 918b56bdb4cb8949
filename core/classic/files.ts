/**
 * The serving end of `upload` and `download`: a few file-system operations a
 * classic service offers so whole trees move in few round trips.
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
      let kind: PathInfo["kind"] = entry.isFile
        ? "file"
        : entry.isDirectory
        ? "directory"
        : "other";
      if (entry.isSymlink) {
        kind = await Deno.stat(`${path}/${entry.name}`).then(describe, () => null)
          .then((info) => info?.kind ?? "other");
      }
      entries.push({ name: entry.name, kind });
    }
    return entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
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
    if (mode !== null && Deno.build.os !== "windows") await Deno.chmod(path, mode & 0o777);
  }

  /** Opens a file for reading. */
  async openRead(path: string): Promise<FileChannel> {
    return this.#track(await Deno.open(path, { read: true }));
  }

  /** Creates or truncates a file for writing. */
  async openWrite(path: string): Promise<FileChannel> {
    return this.#track(await Deno.open(path, { write: true, create: true, truncate: true }));
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
    if (!Number.isSafeInteger(max) || max < 1 || max > MAX_CHUNK) {
      return Promise.reject(new RangeError(`cannot read ${max} bytes at once`));
    }
    return this.#then(async () => {
      const buffer = new Uint8Array(max);
      let filled = 0;
      while (filled < buffer.length) {
        const count = await this.#file.read(buffer.subarray(filled));
        if (count === null || count === 0) break;
        filled += count;
      }
      return filled === 0 ? null : buffer.subarray(0, filled);
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

function describe(info: Deno.FileInfo): PathInfo {
  const kind = info.isFile ? "file" : info.isDirectory ? "directory" : "other";
  const identity = info.dev !== null && info.ino !== null ? `${info.dev}:${info.ino}` : null;
  return { kind, mode: info.mode === null ? null : info.mode & 0o7777, size: info.size, identity };
}

/** The largest read a peer may ask for at once. */
export const MAX_CHUNK = 64 * 1024 * 1024;
