/**
 * The server of the synchronous-mode tests, run as a child process (a
 * synchronous client blocks its own thread, so it can never be served by a
 * server in the same process). It reads a JSON line of options on stdin —
 * `{ "unix": path?, "tls": { cert, key }?, "token": string? }` — serves
 * {@linkcode SyncTestService} with the permissive policy on TCP (and a unix
 * socket, and TLS, when asked) and a classic server on TCP, prints one JSON
 * line of its addresses, and
 * exits when its stdin closes.
 */

import { classic, PERMISSIVE, restricted, serve, Service, tokenAuthenticator } from "../mod.ts";
import type { Connection } from "../mod.ts";

/** A class whose instances go by reference. */
export class Point {
  constructor(public x: number, public y: number) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
  toString(): string {
    return `Point(${this.x}, ${this.y})`;
  }
}

/** An array that is not plain data, so it goes by reference. */
export class Items extends Array<number> {}

/** A settings object as plain code would get one. */
export class Settings {
  enabled = false;
  retries = 0;
  name = "db";
  items: Items = Items.of(10, 20, 30);
  scale = 2;
}

/** Coerces to a number and to a string of its own. */
export class Temperature {
  constructor(public celsius: number) {}
  valueOf(): number {
    return this.celsius;
  }
  toString(): string {
    return `${this.celsius}°C`;
  }
}

/** A value with a JSON form of its own. */
export class Money {
  constructor(public amount: number, public currency: string) {}
  toJSON(): string {
    return `${this.amount} ${this.currency}`;
  }
}

/** What the synchronous tests use. */
export class SyncTestService extends Service {
  settings = new Settings();
  list: Items = Items.of(10, 20, 30);
  temperature = new Temperature(21.5);
  /** A view that lets `enabled` be read, and nothing be written. */
  readOnly = restricted(new Settings(), ["enabled"]);
  Point = Point;
  price = new Money(5, "EUR");
  url = new URL("https://example.com/x");
  kept: unknown = null;
  running = 0;
  mostRunning = 0;
  finallyRan = 0;
  /** Items `counting()` has produced, in all. */
  produced = 0;
  conn: Connection | null = null;

  override onConnect(conn: Connection): void {
    this.conn = conn;
  }

  add(a: number, b: number): number {
    return a + b;
  }
  same(x: unknown): unknown {
    return x;
  }
  keep(x: unknown): void {
    this.kept = x;
  }
  *squares(n: number): Generator<number> {
    try {
      for (let i = 0; i < n; i++) yield i * i;
    } finally {
      this.finallyRan++;
    }
  }
  *counting(): Generator<number> {
    for (let i = 0;; i++) {
      this.produced++;
      yield i;
    }
  }
  *forever(): Generator<number> {
    try {
      for (let i = 0;; i++) yield i;
    } finally {
      this.finallyRan++;
    }
  }
  async callMe(cb: (x: number) => Promise<number>, x: number): Promise<number> {
    return await cb(x) + 1;
  }
  async nest(n: number, cb: (n: number) => Promise<string>): Promise<string> {
    if (n === 0) return "bottom";
    return `s${n}>` + await cb(n - 1);
  }
  async sleep(ms: number): Promise<string> {
    this.running++;
    this.mostRunning = Math.max(this.mostRunning, this.running);
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.running--;
    return "slept";
  }
  hang(): Promise<never> {
    return new Promise(() => {});
  }
  fail(): never {
    throw new TypeError("boom from server");
  }
  die(code: number): void {
    setTimeout(() => Deno.exit(code), 10);
  }
  exports(): number {
    return this.conn!.stats().exports;
  }
  bytes(size: number): Uint8Array {
    return new Uint8Array(size).map((_, i) => i % 251);
  }
  sum(bytes: Uint8Array): number {
    let total = 0;
    for (const b of bytes) total += b;
    return total;
  }
  /** A stream of `0 … count - 1`, handed over (a synchronous client takes no PUSH of it). */
  numbers(count: number): ReadableStream<number> {
    return ReadableStream.from(Array.from({ length: count }, (_, i) => i));
  }
}

if (import.meta.main) {
  const stdin = Deno.stdin.readable.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await stdin.read();
    if (done) Deno.exit(1);
    text += new TextDecoder().decode(value);
  }
  const options = JSON.parse(text.slice(0, text.indexOf("\n"))) as {
    unix?: string;
    tls?: { cert: string; key: string };
    token?: string;
  };
  const authenticator = options.token === undefined ? undefined : tokenAuthenticator(options.token);
  const common = { ...PERMISSIVE, authenticator, logger: () => {} };
  const tcp = serve(SyncTestService, { ...common, port: 0 });
  const servers = [tcp];
  const addresses: Record<string, unknown> = {};
  await tcp.ready;
  addresses.port = (tcp.addr as Deno.NetAddr).port;
  const classicServer = classic.serve({ port: 0, authenticator, logger: () => {} });
  await classicServer.ready;
  servers.push(classicServer);
  addresses.classicPort = (classicServer.addr as Deno.NetAddr).port;
  if (options.unix) {
    const unix = serve(SyncTestService, { ...common, path: options.unix });
    await unix.ready;
    servers.push(unix);
  }
  if (options.tls) {
    const tls = serve(SyncTestService, { ...common, port: 0, tls: options.tls });
    await tls.ready;
    servers.push(tls);
    addresses.tlsPort = (tls.addr as Deno.NetAddr).port;
  }
  console.log(JSON.stringify(addresses));
  // Serve until the test closes our stdin.
  while (!(await stdin.read()).done) { /* nothing else is expected */ }
  for (const server of servers) await server.close();
  // Calls still sleeping or hanging (a test gave up on them) must not keep the process.
  Deno.exit(0);
}
