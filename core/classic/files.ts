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

  /** Sets permission bits (no-op where the system has none). */
  async setMode(path: string, mode: number | null): Promise<void> {
    if (mode !== null && Deno.build.os !== "windows") await Deno.chmod(path, mode);
  }

  /** Opens a file for reading. */
  async openRead(path: string): Promise<FileChannel> {
    return new FileChannel(await Deno.open(path, { read: true }));
  }

  /** Creates or truncates a file for writing. */
  async openWrite(path: string): Promise<FileChannel> {
    return new FileChannel(
      await Deno.open(path, { write: true, create: true, truncate: true }),
    );
  }
}

/**
 * One open file. Operations run one after another in the order they were
 * asked for, so a peer may pipeline reads or writes without awaiting each.
 * Contract: `close` is idempotent; nothing works after it.
 */
export class FileChannel {
  readonly #file: Deno.FsFile;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** Wraps an open file; it is now this channel's to close. */
  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Reads up to `max` bytes; null at end of file. */
  read(max: number): Promise<Uint8Array | null> {
    return this.#then(async () => {
      const buffer = new Uint8Array(max);
      let filled = 0;
      while (filled < max) {
        const count = await this.#file.read(buffer.subarray(filled));
        if (count === null) break;
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
  return { kind, mode: info.mode === null ? null : info.mode & 0o7777, size: info.size };
}
