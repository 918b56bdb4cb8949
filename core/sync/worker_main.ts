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
import { openChannel, openEndpoint } from "../net/endpoints.ts";
import { isPeerFault } from "../errors.ts";
import type { ByteFrameChannel } from "../wire/framing.ts";
import { SharedPipe } from "../wire/pipe.ts";
import { End, type PipeRecord, Rec, recordPieces, RecordReader } from "../wire/pipe_records.ts";
import { Control, CONTROL_WORDS, Counter, HEARTBEAT_MS, type OpenRequest } from "./control.ts";

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
  pumpIn(channel, toMain, mirror);
  await pumpOut(channel, fromMain, mirror, request.limits.maxOutboundBytes);
}

/** Network → main thread, until the channel ends (which the last record says). */
async function pumpIn(channel: ByteFrameChannel, pipe: SharedPipe, mirror: () => void) {
  try {
    while (true) {
      const message = await channel.receive();
      if (message === null) {
        await put(pipe, { kind: Rec.Ended, how: End.Clean, text: "" });
        return;
      }
      await put(pipe, { kind: Rec.Message, body: message.body, attachments: message.attachments });
      channel.release(message);
      mirror();
    }
  } catch (error) {
    const how = isPeerFault(error) ? End.PeerFault : End.Closed;
    await put(pipe, { kind: Rec.Ended, how, text: errorText(error) });
  }
}

/** Main thread → network, until the main thread closes the connection. */
async function pumpOut(
  channel: ByteFrameChannel,
  pipe: SharedPipe,
  mirror: () => void,
  outboundLimit: number,
): Promise<void> {
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

/** Writes all of `record` into `pipe`, waiting for room as the main thread reads. */
async function put(pipe: SharedPipe, record: PipeRecord): Promise<void> {
  for (const piece of recordPieces(record)) {
    let offset = 0;
    while (offset < piece.length) {
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
