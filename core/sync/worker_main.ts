/**
 * The I/O worker's program: it owns the sockets (and TLS, and subprocess
 * pipes) of every synchronous connection of the process, and moves whole
 * messages between each connection's channel and its two pipes. It knows
 * nothing of the protocol above messages: the sessions, their objects and
 * proxies live on the main thread (objects cannot cross threads).
 *
 * It is bundled into `worker_source.ts` (`deno task bundle-worker`), so
 * the main thread starts it from memory, with no file to read.
 *
 * The main thread talks to it in three ways:
 * - `postMessage` of an {@linkcode OpenRequest} to open a connection;
 * - per connection, records through a pipe each way (`core/wire/pipe_records.ts`);
 * - the control words ({@linkcode Control}): the worker rings the doorbell
 *   after every write to any pipe toward the main thread, beats the
 *   heartbeat, and raises `Dead` if it fails.
 *
 * @module
 */

import { parentPort, workerData } from "node:worker_threads";
import { openChannel } from "../net/byte_channel.ts";
import { openEndpoint } from "../net/endpoints.ts";
import { isPeerFault } from "../errors.ts";
import type { ByteFrameChannel } from "../wire/framing.ts";
import { SharedPipe } from "../wire/pipe.ts";
import {
  End,
  messagePieces,
  type PipeRecord,
  Rec,
  recordPieces,
  RecordReader,
} from "../wire/pipe_records.ts";
import { Control, CONTROL_WORDS, Counter, HEARTBEAT_MS, type OpenRequest } from "./control.ts";

const NO_ATTACHMENTS: readonly Uint8Array[] = [];
const control = new Int32Array(workerData.control as SharedArrayBuffer, 0, CONTROL_WORDS);

function ring(): void {
  Atomics.add(control, Control.Doorbell, 1);
  Atomics.notify(control, Control.Doorbell);
}

function die(why: unknown): void {
  Atomics.store(control, Control.Dead, 1);
  ring();
  console.error(`rdc: the synchronous mode's I/O worker failed: ${why}`);
}
globalThis.addEventListener("error", (event) => die((event as ErrorEvent).error ?? event));
globalThis.addEventListener("unhandledrejection", (event) => die(event.reason));

setInterval(() => Atomics.add(control, Control.Heartbeat, 1), HEARTBEAT_MS);

parentPort!.on("message", (request: OpenRequest) => {
  open(request).catch(die);
});

/** Opens one connection, then pumps its messages both ways until it ends. */
async function open(request: OpenRequest): Promise<void> {
  const toMain = new SharedPipe(request.toMain);
  const fromMain = new SharedPipe(request.fromMain);
  const counters = new Float64Array(request.counters);
  let channel: ByteFrameChannel;
  try {
    const transport = await openEndpoint(request.endpoint);
    channel = await openChannel(transport, request.limits, request.token);
  } catch (error) {
    await put(toMain, { kind: Rec.Ended, how: End.OpenFailed, text: errorText(error) });
    return;
  }
  await put(toMain, { kind: Rec.Opened, text: channel.description });
  const mirror = () => {
    const c = channel.counters;
    counters[Counter.FramesSent] = c.framesSent;
    counters[Counter.FramesReceived] = c.framesReceived;
    counters[Counter.BytesSent] = c.bytesSent;
    counters[Counter.BytesReceived] = c.bytesReceived;
    counters[Counter.Buffered] = channel.buffered;
  };
  const link: Link = { channel, toMain, mirror, closed: false };
  pumpIn(link);
  await pumpOut(link, fromMain, request.limits.maxOutboundBytes);
}

/** One connection, as the worker holds it. */
interface Link {
  readonly channel: ByteFrameChannel;
  readonly toMain: SharedPipe;
  /** Copies the channel's counters where the main thread reads them. */
  readonly mirror: () => void;
  /** Set once the main thread closed it: nothing more goes toward the main thread. */
  closed: boolean;
}

/** Network → main thread, until the channel ends (which the last record says). */
async function pumpIn(link: Link): Promise<void> {
  const { channel, toMain: pipe, mirror } = link;
  try {
    while (true) {
      const message = await channel.receive();
      if (link.closed) return;
      if (message === null) {
        await put(pipe, { kind: Rec.Ended, how: End.Clean, text: "" }, link);
        return;
      }
      const pieces = message.attachments.length === 0
        ? messagePieces(message.body, NO_ATTACHMENTS)
        : recordPieces({ kind: Rec.Message, body: message.body, attachments: message.attachments });
      // A message that fits goes at once: no promise, no turn of the loop.
      if (!putNow(pipe, pieces)) await put(pipe, pieces, link);
      channel.release(message);
      mirror();
    }
  } catch (error) {
    if (link.closed) return;
    const how = isPeerFault(error) ? End.PeerFault : End.Closed;
    await put(pipe, { kind: Rec.Ended, how, text: errorText(error) }, link);
  }
}

/** Main thread → network, until the main thread closes the connection. */
async function pumpOut(link: Link, pipe: SharedPipe, outboundLimit: number): Promise<void> {
  const { channel, mirror } = link;
  const reader = new RecordReader(pipe);
  while (true) {
    const seen = pipe.written;
    const record = reader.poll();
    if (!record) {
      await pipe.dataAfter(seen);
      continue;
    }
    switch (record.kind) {
      case Rec.Message:
        channel.send(record.body, record.attachments);
        mirror();
        // A peer that does not read: the main thread's writes wait, then drainTimeout ends it.
        if (channel.buffered > outboundLimit) await channel.drained(outboundLimit / 2);
        break;
      case Rec.Limits:
        channel.setLimits(record);
        break;
      case Rec.Close: {
        link.closed = true;
        // A write toward the main thread waiting for room will get none: let it go.
        link.toMain.wakeWriter();
        // Let what was sent leave (the CLOSE that says why), but never wait on a peer for long.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          channel.flushed(),
          new Promise((resolve) => timer = setTimeout(resolve, 1000)),
        ]);
        clearTimeout(timer);
        channel.close();
        return;
      }
      case Rec.Opened:
      case Rec.Ended:
        throw new Error(`a ${record.kind} record came from the main thread`);
      default:
        record satisfies never;
    }
  }
}

/** Writes `pieces` into `pipe` if they all fit now; returns whether they did. */
function putNow(pipe: SharedPipe, pieces: Uint8Array[]): boolean {
  let size = 0;
  for (const piece of pieces) size += piece.length;
  if (size > pipe.writable) return false;
  for (const piece of pieces) pipe.write(piece);
  ring();
  return true;
}

/**
 * Writes all of `record` (or its pieces) into `pipe`, waiting for room as
 * the main thread reads; gives up once `link` is closed.
 */
async function put(
  pipe: SharedPipe,
  record: PipeRecord | Uint8Array[],
  link?: Link,
): Promise<void> {
  for (const piece of Array.isArray(record) ? record : recordPieces(record)) {
    let offset = 0;
    while (offset < piece.length) {
      if (link?.closed) return;
      const seen = pipe.consumed;
      const written = pipe.write(offset === 0 ? piece : piece.subarray(offset));
      offset += written;
      if (written > 0) ring();
      else await pipe.roomAfter(seen);
    }
  }
}

/** An error as `name: message`, which the main thread turns back into an error of that name. */
function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : `Error: ${error}`;
}
