/**
 * The launcher's side of the bootstrap exchange (the script is in
 * `bootstrap_script.ts`): read the status line, send what is missing, wait
 * for the server's `READY`.
 *
 * Contract: `runBootstrap` reads stdout lines through `output` and writes
 * uploads through `stdin`, which it leaves open (its end is the server's
 * end). It closes nothing else either: on failure the caller closes the
 * process. Every wait for a line is bounded by `timeoutMs`; an upload is
 * not (it shows progress instead). Failures are `DeployError`s naming what
 * the remote side said.
 *
 * @module
 */

import { within } from "./bounded.ts";
import type { Bundle } from "./bundle.ts";
import { DeployError } from "./errors.ts";
import { ProgressBar } from "./progress.ts";
import { MARKER, READY } from "./remote_protocol.ts";
import type { RemoteOutput } from "./remote_output.ts";
import type { RuntimePlatform } from "./platforms.ts";
import { compressedRuntime, localRuntime, runtimeSource } from "./runtime.ts";
import type { RemoteProcess } from "./ssh_streams.ts";

/** What a deployment may have to upload. */
export type Upload = "bundle" | "runtime";

/** What the exchange learned and did. */
export interface BootstrapOutcome {
  /** The server's unix socket on the remote host. */
  socketPath: string;
  /** `uname -sm` of the remote host (`Linux x86_64`). */
  platform: string;
  /** What had to be uploaded (nothing, on a warm cache). */
  uploaded: Upload[];
}

/** What the exchange needs besides the process. */
export interface BootstrapContext {
  /** The bundle to send if it is missing. */
  bundle: Bundle;
  /** `user@host:port`, for messages. */
  destination: string;
  /** Whether to ship a runtime to a host without deno. */
  shipRuntime: boolean;
  /** Whether to draw the progress bar of a runtime upload. */
  progress: boolean;
  /** The longest wait for any one line. */
  timeoutMs: number;
}

/** Runs the exchange (see the module contract). */
export async function runBootstrap(
  process: RemoteProcess,
  output: RemoteOutput,
  stdin: WritableStreamDefaultWriter<Uint8Array>,
  context: BootstrapContext,
): Promise<BootstrapOutcome> {
  const { destination } = context;
  const outcome: BootstrapOutcome = { socketPath: "", platform: "", uploaded: [] };
  let runtimePlatform: RuntimePlatform | undefined;
  for (;;) {
    const next = await within(output.nextLine(), context.timeoutMs);
    if (next.timedOut) {
      throw new DeployError(
        destination,
        `the remote side said nothing for ${context.timeoutMs} ms${remoteSaid(output)}`,
      );
    }
    const received = next.value;
    if (received === null) {
      const status = await within(process.status, 2_000);
      const how = status.timedOut
        ? "closed its output"
        : status.value.signal
        ? `was killed by ${status.value.signal}`
        : `exited with status ${status.value.code}`;
      throw new DeployError(
        destination,
        `the remote side ${how} before the server was ready${remoteSaid(output)}`,
      );
    }
    // Whatever a login script prints is skipped, even when it does not end its line.
    const at = received.indexOf(`${MARKER} `);
    if (at < 0) continue;
    const line = received.slice(at).trimEnd();
    const [, word, ...args] = line.split(/\s+/);
    switch (word) {
      case "STATUS":
        outcome.platform = args.slice(0, 2).join(" ");
        if (args.includes("runtime")) {
          runtimePlatform = runtimeFor(context, args[0] ?? "", args[1] ?? "");
        }
        break;
      case "SEND": {
        const item = args[0];
        if (item !== "bundle" && item !== "runtime") {
          throw new DeployError(destination, `the remote side asked for '${item}'`);
        }
        await send(item, stdin, context, runtimePlatform);
        outcome.uploaded.push(item);
        break;
      }
      case READY:
        outcome.socketPath = line.slice(`${MARKER} ${READY} `.length);
        return outcome;
      default:
        throw new DeployError(destination, `unexpected line from the remote side: ${line}`);
    }
  }
}

/** The platform of the runtime to ship to an `os`/`arch` host; throws unless it may be and can be. */
function runtimeFor(context: BootstrapContext, os: string, arch: string): RuntimePlatform {
  if (!context.shipRuntime) {
    throw new DeployError(
      context.destination,
      `no deno on the remote host (${os} ${arch}): looked on PATH, in ~/.deno/bin and in ` +
        "rdc's cache; install Deno there, pass denoPath, or let rdc ship its runtime",
    );
  }
  const source = runtimeSource(os, arch);
  if (source === undefined) {
    throw new DeployError(
      context.destination,
      `the remote host runs ${os} ${arch} and has no deno (looked on PATH, in ~/.deno/bin and ` +
        `in rdc's cache); rdc ships Deno to glibc Linux and macOS on x86_64 and arm64 only: ` +
        "install Deno there or pass denoPath",
    );
  }
  return source.platform;
}

/** Sends one item: a size line, then the bytes. */
async function send(
  item: Upload,
  stdin: WritableStreamDefaultWriter<Uint8Array>,
  context: BootstrapContext,
  platform: RuntimePlatform | undefined,
): Promise<void> {
  const encoder = new TextEncoder();
  switch (item) {
    case "bundle": {
      const bytes = context.bundle.bytes;
      await stdin.write(encoder.encode(`${bytes.length}\n`));
      await stdin.write(bytes);
      return;
    }
    case "runtime": {
      if (platform === undefined) {
        throw new DeployError(context.destination, "the remote side asked for a runtime it lacks");
      }
      let file: string;
      try {
        file = await compressedRuntime(platform);
      } catch (error) {
        throw new DeployError(context.destination, (error as Error).message);
      }
      using source = await Deno.open(file);
      const size = (await source.stat()).size;
      const label = `rdc: shipping deno ${localRuntime().version} (${platform.target}) to ` +
        context.destination;
      const bar = new ProgressBar(label, size, context.progress);
      await stdin.write(encoder.encode(`${size}\n`));
      for await (const chunk of source.readable) {
        await stdin.write(chunk);
        bar.advance(chunk.length);
      }
      bar.done();
      return;
    }
    default:
      item satisfies never;
  }
}

function remoteSaid(output: RemoteOutput): string {
  const text = output.stderrText();
  return text === "" ? "" : `: ${text}`;
}
