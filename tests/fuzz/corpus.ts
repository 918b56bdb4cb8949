/**
 * The corpus of valid traffic: {@linkcode captureCorpus} runs each scenario
 * with a real client against a real server over a pair of tapped web
 * streams and records every frame each way, split at frame boundaries, one
 * {@linkcode Scenario} a connection. Each frame the client sent remembers how
 * many server frames had gone out before it, so that a replay can wait for
 * them (a reply to a callback must not overtake the call it answers).
 *
 * @module
 */

import { ExtData } from "@msgpack/msgpack";
import { connectStream, type Limits, type Service } from "../../mod.ts";
import { EXT } from "../_raw_peer.ts";
import { type Frame, FrameSplitter, wholeFrame } from "./frames.ts";
import { FUZZ_LIMITS } from "./limits.ts";
import { countingLogger } from "./log.ts";
import { KEEPS_CLOSE, SCENARIOS, type Script, settle } from "./scenarios.ts";
import { fuzzService, ServiceProbe } from "./service.ts";
import { decodeBody, encodeBody, slotsOf } from "./tree.ts";

/** One frame the client sent, and how many server frames had gone out before it. */
export interface TrafficFrame {
  /** The frame. */
  frame: Frame;
  /** Server frames (after its HELLO) a replay waits for before sending this one. */
  after: number;
}

/** The traffic of one recorded connection, HELLOs left out. */
export interface Scenario {
  /** What the client did. */
  name: string;
  /** What the client sent, in order. */
  toServer: TrafficFrame[];
  /** What the server sent, in order: material for splicing foreign frames. */
  toClient: Frame[];
}

/** Every scenario, and a fingerprint of their bytes (a replay checks it matches). */
export interface Corpus {
  /** The recorded connections. */
  scenarios: Scenario[];
  /** FNV-1a of every frame, in hex: equal corpora have equal fingerprints. */
  fingerprint: string;
  /** Frames recorded, both ways. */
  frames: number;
}

/** Records the bytes going one way through a web stream pair, split into frames. */
class Tap {
  readonly frames: Frame[] = [];
  readonly after: number[] = [];
  readonly #splitter = new FrameSplitter();
  recording = true;

  /**
   * A stream that passes bytes through, recording their frames; `seen` counts
   * the frames gone the other way (the HELLO left out) when each is recorded.
   */
  stream(seen: () => number): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream({
      transform: (chunk, controller) => {
        // The writer reuses its buffers once a write resolves: keep (and pass on) a copy.
        const copy = chunk.slice();
        if (this.recording) {
          for (const frame of this.#splitter.push(copy)) {
            this.frames.push(frame);
            this.after.push(seen());
          }
        }
        controller.enqueue(copy);
      },
    });
  }
}

/** Runs one scenario on a fresh client-server pair over tapped streams; returns its traffic. */
async function record(
  name: string,
  script: Script,
  service: new () => Service,
  limits: Limits,
): Promise<Scenario> {
  const up = new Tap();
  const down = new Tap();
  const toServer = up.stream(() => Math.max(0, down.frames.length - 1));
  const toClient = down.stream(() => Math.max(0, up.frames.length - 1));
  const quiet = countingLogger();
  const [server, client] = await Promise.all([
    connectStream(
      { readable: toServer.readable, writable: toClient.writable },
      { ...limits, service, logger: quiet, description: `capture ${name} (server)` },
    ),
    connectStream(
      { readable: toClient.readable, writable: toServer.writable },
      { ...limits, logger: quiet, description: `capture ${name} (client)` },
    ),
  ]);
  const kept: unknown[] = [];
  try {
    await script(client.root, client, (value) => {
      kept.push(value);
      return value;
    });
    await settle();
  } finally {
    if (!KEEPS_CLOSE.has(name)) up.recording = down.recording = false;
    await client.close();
    await server.close();
  }
  kept.length = 0; // only now may the netrefs the script kept be collected
  return {
    name,
    // The first frame each way is the HELLO: the raw peer sends its own.
    toServer: up.frames.slice(1).map((frame, i) => ({
      frame: anonymous(frame),
      after: up.after[i + 1],
    })),
    toClient: down.frames.slice(1).map(anonymous),
  };
}

/**
 * `frame` with the stacks of the errors it carries replaced when they name
 * files (rdc's own errors do): the corpus must be the same bytes on every
 * machine and whatever the line numbers of core/ today.
 */
function anonymous(frame: Frame): Frame {
  if (frame.chunk || !new TextDecoder().decode(frame.payload).includes("file:")) return frame;
  const body = decodeBody(frame.payload);
  if (!body) return frame;
  let changed = false;
  for (const slot of slotsOf(body)) {
    const value = slot.get();
    if (!Array.isArray(value) || value.length !== 8) continue;
    const first = value[0];
    if (first instanceof ExtData && first.type === EXT.TAG_ERROR && typeof value[4] === "string") {
      value[4] = `${value[2]}: ${value[3]}\n    at (stack left out)`;
      changed = true;
    }
  }
  return changed ? wholeFrame(encodeBody(body)) : frame;
}

/**
 * Records the corpus: every scenario, each on a connection of its own,
 * against the service the fuzzer attacks, with the server's limits.
 */
export async function captureCorpus(limits: Limits = FUZZ_LIMITS): Promise<Corpus> {
  const held: unknown[] = [];
  const service = fuzzService(new ServiceProbe(), held);
  const scenarios: Scenario[] = [];
  for (const [name, script] of Object.entries(SCENARIOS)) {
    scenarios.push(await record(name, script, service, limits));
  }
  let hash = 0x811c9dc5;
  let frames = 0;
  const mix = (frame: Frame, after = 0) => {
    frames++;
    hash = Math.imul(hash ^ (frame.chunk ? 1 : 0) ^ (after << 1), 0x01000193);
    for (const byte of frame.payload) hash = Math.imul(hash ^ byte, 0x01000193);
  };
  for (const scenario of scenarios) {
    scenario.toServer.forEach(({ frame, after }) => mix(frame, after));
    scenario.toClient.forEach((frame) => mix(frame));
  }
  return { scenarios, fingerprint: (hash >>> 0).toString(16).padStart(8, "0"), frames };
}
