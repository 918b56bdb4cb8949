/**
 * A progress bar on stderr, for long uploads (the Deno runtime). On a
 * terminal it redraws one line in place, at most every 100 ms; otherwise it
 * prints a line at each quarter, so logs stay short.
 *
 * @module
 */

const WIDTH = 30;
const REDRAW_MS = 100;

/**
 * Contract: `advance` any number of times, then `done` once; nothing is
 * drawn when disabled. Never throws (a closed stderr is ignored).
 */
export class ProgressBar {
  #sent = 0;
  #lastDraw = 0;
  #lastQuarter = -1;
  readonly #terminal = Deno.stderr.isTerminal();

  /** `label` names what moves; `total` is in bytes. */
  constructor(readonly label: string, readonly total: number, readonly enabled = true) {
    this.#draw();
  }

  /** Counts `bytes` more as sent. */
  advance(bytes: number): void {
    this.#sent += bytes;
    this.#draw();
  }

  /** Draws the final state and ends the line. */
  done(): void {
    this.#sent = this.total;
    this.#draw(true);
  }

  #draw(final = false): void {
    if (!this.enabled) return;
    const fraction = this.total === 0 ? 1 : Math.min(1, this.#sent / this.total);
    if (this.#terminal) {
      if (!final && performance.now() - this.#lastDraw < REDRAW_MS) return;
      this.#lastDraw = performance.now();
    } else {
      const quarter = Math.floor(fraction * 4);
      if (quarter === this.#lastQuarter) return;
      this.#lastQuarter = quarter;
    }
    const filled = Math.round(fraction * WIDTH);
    const bar = `${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}`;
    const percent = `${Math.round(fraction * 100)}%`.padStart(4);
    const amount = `${megabytes(this.#sent)}/${megabytes(this.total)} MB`;
    const line = `${this.label} [${bar}] ${percent} ${amount}`;
    const end = this.#terminal ? (final ? "\n" : "") : "\n";
    try {
      Deno.stderr.writeSync(new TextEncoder().encode(`${this.#terminal ? "\r" : ""}${line}${end}`));
    } catch {
      // stderr is gone: nothing to show progress on.
    }
  }
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}
