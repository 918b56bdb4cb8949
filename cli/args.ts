/**
 * What every `rdc` command shares: flag parsing that turns mistakes into a
 * one-line reason and exit status 2, and the log sink of `--logfile`/`--quiet`.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Logger } from "../core/log.ts";

/** A command-line mistake: printed as one line, exit status 2. */
export class UsageError extends Error {
  /** `message` says what was wrong, in one line. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `argv` strictly: unknown flags, missing values and unexpected
 * positionals are {@linkcode UsageError}s.
 */
export function parseFlags<T extends Options>(
  argv: string[],
  options: T,
  maxPositionals = 0,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true }>> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(usageReason((error as Error).message, argv, options));
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  }
  return parsed;
}

/** parseArgs's message as one lower-case line; a value that looks like a flag is named. */
function usageReason(message: string, argv: string[], options: Options): string {
  const ambiguous = /^Option '(-\w|--[\w-]+)' argument is ambiguous/.exec(message);
  if (ambiguous) {
    const flag = ambiguous[1]!;
    const long = flag.startsWith("--")
      ? flag.slice(2)
      : Object.entries(options).find(([, option]) => `-${option.short}` === flag)?.[0];
    const value = argv[argv.indexOf(flag) + 1] ?? "";
    return `option '${flag}' got '${value}', which looks like a flag ` +
      `(write --${long}=${value} if you mean it)`;
  }
  const line = message.split("\n")[0]!.replace(/\. To specify.*$/, "").replace(/\.$/, "");
  return line.charAt(0).toLowerCase() + line.slice(1);
}

/** A TCP port from a flag's text. @throws {UsageError} unless an integer from 0 to 65535. */
export function parsePort(text: string, flag = "--port"): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new UsageError(`invalid ${flag} '${text}': expected an integer from 0 to 65535`);
  }
  return port;
}

/** A positive integer from a flag's text. @throws {UsageError} naming the flag otherwise. */
export function parsePositiveInteger(text: string, flag: string): number {
  const value = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!(value >= 1)) {
    throw new UsageError(`invalid ${flag} '${text}': expected a positive integer`);
  }
  return value;
}

/**
 * A number of seconds from a flag's text: positive, or with `allowZero` also
 * 0 (which the flag's help says means never).
 *
 * @throws {UsageError} naming the flag otherwise.
 */
export function parseSeconds(text: string, flag: string, allowZero = false): number {
  const seconds = /^\d{1,12}(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(seconds > 0 || (allowZero && seconds === 0))) {
    const expected = allowZero
      ? "a number of seconds from 0 up (0: never)"
      : "a positive number of seconds";
    throw new UsageError(`invalid ${flag} '${text}': expected ${expected}`);
  }
  return seconds;
}

/**
 * The address to bind from `--host` and `--ipv6` (RPyC's `--ipv6`): the
 * host given, else the IPv6 or IPv4 `fallback`.
 *
 * @throws {UsageError} for `--ipv6` with an IPv4 address.
 */
export function bindAddress(
  host: string | undefined,
  ipv6: boolean | undefined,
  fallback: { ipv4: string; ipv6: string },
): string {
  if (host === undefined) return ipv6 ? fallback.ipv6 : fallback.ipv4;
  if (ipv6 && /^\d{1,3}(\.\d{1,3}){3}$/.test(host)) {
    throw new UsageError(`--ipv6 cannot bind the IPv4 address '${host}' (drop one of them)`);
  }
  return host;
}

/** The `--ipv6`/`-6` flag, as a `parseFlags` option. */
export const IPV6_FLAG = { ipv6: { type: "boolean", short: "6" } } as const;

/** Whether `host` names this machine's loopback interface only. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

/** A logger for `--logfile` and `--quiet`, and how to close its file. */
export interface CommandLog extends Disposable {
  /** Logs a line (`--quiet` keeps errors only). */
  log: Logger;
}

/** Logs to `logfile` (appending) or stderr; `quiet` keeps errors only. */
export function openLog(command: string, logfile: string | undefined, quiet: boolean): CommandLog {
  const encoder = new TextEncoder();
  const file = logfile === undefined
    ? undefined
    : Deno.openSync(logfile, { append: true, create: true });
  const sink = file ?? Deno.stderr;
  return {
    log(level, message) {
      if (quiet && level !== "error") return;
      if (level === "debug") return;
      const stamp = file ? `${new Date().toISOString()} ` : "";
      const bytes = encoder.encode(`${stamp}rdc ${command} ${level}: ${message}\n`);
      for (let offset = 0; offset < bytes.length;) offset += sink.writeSync(bytes.subarray(offset));
    },
    [Symbol.dispose]() {
      file?.close();
    },
  };
}

/** Aborts when the process gets SIGINT or SIGTERM, until disposed. */
export function stopSignal(): { signal: AbortSignal } & Disposable {
  const controller = new AbortController();
  const stop = () => controller.abort();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const name of signals) Deno.addSignalListener(name, stop);
  return {
    signal: controller.signal,
    [Symbol.dispose]() {
      for (const name of signals) Deno.removeSignalListener(name, stop);
    },
  };
}
