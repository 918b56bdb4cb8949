/**
 * A real terminal for tests: a detached tmux session running one command,
 * whose screen a test reads and types into.
 *
 * tmux is required: without it {@linkcode terminalTest} fails the test under
 * CI=true (.ci/run installs tmux) and skips it (with a warning) elsewhere.
 */

import assert from "node:assert/strict";
import { canRun, poll, ROOT } from "./_cli.ts";

const ROOT_PATH = decodeURIComponent(ROOT.pathname);
/** How long the screen may take to show an expected line. */
const SCREEN_MS = 30_000;

/** Whether tmux is installed. */
export const HAVE_TMUX: boolean = canRun("tmux", ["-V"]);
const IN_CI = Deno.env.get("CI") === "true";

/** A terminal test: fails without tmux under CI, is skipped without it elsewhere. */
export function terminalTest(name: string, fn: () => Promise<void>): void {
  if (!HAVE_TMUX && !IN_CI) console.warn(`${name}: tmux is not installed: skipping`);
  Deno.test({
    name,
    ignore: !HAVE_TMUX && !IN_CI,
    async fn() {
      assert.ok(HAVE_TMUX, "tmux is required for the terminal tests (CI=true): install tmux");
      await fn();
    },
  });
}

let sessions = 0;

/** A detached tmux session on its own tmux server, 200x50, running one command. */
export class Terminal implements AsyncDisposable {
  readonly socket = `rdc_test_${Deno.pid}_${++sessions}`;

  /** Starts `command` in the session; the pane stays after it exits, to read its status. */
  async start(command: string[]): Promise<void> {
    const line = command.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(" ");
    await this.#tmux(
      ["new-session", "-d", "-x", "200", "-y", "50", "-c", ROOT_PATH, line],
      [";", "set-option", "remain-on-exit", "on"],
    );
  }

  /** The visible screen, wrapped lines joined. */
  async screen(): Promise<string> {
    return await this.#tmux(["capture-pane", "-p", "-J"]);
  }

  /**
   * The screen and the lines scrolled off it, wrapped lines joined (tmux
   * scrolls a dead pane's screen by a line to show its status).
   */
  async history(): Promise<string> {
    return await this.#tmux(["capture-pane", "-p", "-J", "-S", "-"]);
  }

  /** Types `text` literally, then Enter. */
  async type(text: string): Promise<void> {
    await this.#tmux(["send-keys", "-l", text]);
    await this.#tmux(["send-keys", "Enter"]);
  }

  /** Waits until the screen matches `pattern`. */
  async expect(pattern: RegExp, ms = SCREEN_MS): Promise<void> {
    let last = "";
    await poll(async () => pattern.test(last = await this.screen()), ms, () => {
      return `the screen never showed ${pattern}; it shows:\n${last}`;
    });
  }

  /** Waits until the command has exited and returns its exit status. */
  async exitStatus(ms = SCREEN_MS): Promise<number> {
    let state = "";
    await poll(
      async () => {
        state = await this.#tmux(["display-message", "-p", "#{pane_dead} #{pane_dead_status}"]);
        return state.startsWith("1");
      },
      ms,
      () => `the command is still running (${state.trim()}); the screen shows:\n${this.#last}`,
    );
    return Number(state.split(" ")[1]);
  }

  #last = "";

  async #tmux(...parts: string[][]): Promise<string> {
    const env = Deno.env.toObject();
    delete env.TMUX;
    const { code, stdout, stderr } = await new Deno.Command("tmux", {
      args: ["-L", this.socket, "-f", "/dev/null", ...parts.flat()],
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(code, 0, `tmux ${parts.flat().join(" ")}: ${new TextDecoder().decode(stderr)}`);
    if (parts[0]![0] === "capture-pane") this.#last = text;
    return text;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await new Deno.Command("tmux", {
      args: ["-L", this.socket, "kill-server"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
  }
}
