/**
 * Streams a large remote file into a local one, with backpressure end to
 * end: the server hands out a file's `ReadableStream`, the client pipes it
 * into a local file's `WritableStream`. The server's file is read at most
 * `streamWindow` chunks (default 64) ahead of what the client has written to
 * its disk, so neither end holds more than that, however large the file.
 *
 * Run it all in one process (a server on a free loopback port, serving a
 * temporary directory with a file of SIZE MiB, default 32; then the client):
 *
 * ```sh
 * deno run --allow-net --allow-read --allow-write examples/stream_file.ts [SIZE]
 * ```
 *
 * @module
 */

import { connect, serve, Service } from "../mod.ts";

/** Hands out the files of one directory as streams. */
export class FileService extends Service {
  readonly #dir: string;

  constructor(dir: string) {
    super();
    this.#dir = dir;
  }

  /** A file of the directory, by name, as a stream of bytes (a capability to read it, once). */
  async exposed_open(name: string): Promise<ReadableStream<Uint8Array>> {
    if (name.includes("/") || name.includes("\\") || name.startsWith(".")) {
      throw new TypeError(`not a file of this directory: ${name}`);
    }
    const file = await Deno.open(`${this.#dir}/${name}`);
    return file.readable;
  }

  /** A file's size in bytes. */
  async exposed_size(name: string): Promise<number> {
    return (await Deno.stat(`${this.#dir}/${name}`)).size;
  }
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Counts the chunks and bytes that pass. */
function counting(): {
  stream: TransformStream<Uint8Array, Uint8Array>;
  chunks: number;
  bytes: number;
} {
  const counts = {
    chunks: 0,
    bytes: 0,
    stream: new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        counts.chunks++;
        counts.bytes += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  };
  return counts;
}

if (import.meta.main) {
  const mib = Number(Deno.args[0] ?? 32);
  const dir = await Deno.makeTempDir({ prefix: "rdc-stream-file-" });
  try {
    // A file with content that varies, so a mixed-up chunk would show.
    const source = `${dir}/large.bin`;
    const block = new Uint8Array(1024 * 1024);
    await using file = await Deno.open(source, { write: true, create: true });
    for (let i = 0; i < mib; i++) {
      block.fill(i % 251);
      block[0] = i >> 8;
      await file.write(block);
    }

    await using server = serve(new FileService(dir), { port: 0 });
    console.log(`server: serving ${dir}`);
    await using conn = await connect("127.0.0.1", (server.addr as Deno.NetAddr).port);

    const remote = await conn.root.open("large.bin") as ReadableStream<Uint8Array>;
    const copy = `${dir}/copy.bin`;
    const local = await Deno.open(copy, { write: true, create: true, truncate: true });
    const counter = counting();
    // pipeTo waits for each local write: a slow disk slows the remote read.
    await remote.pipeThrough(counter.stream).pipeTo(local.writable);
    console.log(`client: copied ${counter.bytes} of ${await conn.root.size("large.bin")} bytes`);
    console.log(`client: in ${counter.chunks} chunks`);
    console.log(`client: the copy matches: ${(await sha256(source)) === (await sha256(copy))}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log("done");
}
