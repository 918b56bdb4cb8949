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
 * terminal the block of lines (one per host, in the hosts' order, each cut
 * to the terminal's width so that none wraps) is redrawn in place after
 * each change, the cursor moved back up over it;
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
   * @param columns The terminal's width. Default: stderr's, else 80.
   */
  constructor(
    readonly hosts: readonly string[],
    readonly write: (text: string) => void = writeStderr,
    readonly terminal: boolean = Deno.stderr.isTerminal(),
    readonly columns: number = terminalColumns(),
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
    const line = `${host.padEnd(this.#width)}  ${stage}${detail ? ` ${detail}` : ""}`;
    return line.length < this.columns ? line : `${line.slice(0, this.columns - 2)}…`;
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

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80; // not a terminal: nothing is drawn anyway
  }
}

function writeStderr(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text));
}
