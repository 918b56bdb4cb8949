/**
 * One status line per host while a fleet deploys, redrawn in place on a
 * terminal.
 *
 * @module
 */

/** Where a host's deployment stands. */
export type HostStage = "waiting" | "connecting" | "deploying" | "ready" | "failed";

/**
 * Contract: `set` any number of times per host, then `done` once. On a
 * terminal the block of lines (one per host, in the hosts' order) is
 * redrawn in place after each change, the cursor moved back up over it;
 * when `terminal` is false nothing is drawn (a log gets the final results
 * from the caller instead). Never throws (a closed output is ignored).
 */
export class FleetBoard {
  readonly #lines: string[];
  readonly #width: number;
  #drawn = false;

  /**
   * A board of `hosts`, drawn with `write` when `terminal` holds.
   * @param write Default: writes to stderr.
   * @param terminal Default: whether stderr is a terminal.
   */
  constructor(
    readonly hosts: readonly string[],
    readonly write: (text: string) => void = writeStderr,
    readonly terminal: boolean = Deno.stderr.isTerminal(),
  ) {
    this.#width = Math.max(0, ...hosts.map((host) => host.length));
    this.#lines = hosts.map((host) => this.#line(host, "waiting", ""));
    this.#draw();
  }

  /** Shows host number `index` at `stage`, with `detail` (a time, an error). */
  set(index: number, stage: HostStage, detail = ""): void {
    this.#lines[index] = this.#line(this.hosts[index]!, stage, detail);
    this.#draw();
  }

  /** Leaves the cursor below the block. */
  done(): void {
    this.#drawn = false;
  }

  #line(host: string, stage: HostStage, detail: string): string {
    return `${host.padEnd(this.#width)}  ${stage}${detail ? ` ${detail}` : ""}`;
  }

  #draw(): void {
    if (!this.terminal) return;
    const up = this.#drawn ? `\x1b[${this.#lines.length}A` : "";
    this.#drawn = true;
    try {
      this.write(`${up}${this.#lines.map((line) => `\r\x1b[2K${line}\n`).join("")}`);
    } catch {
      // The output is gone: nothing to show progress on.
    }
  }
}

function writeStderr(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text));
}
