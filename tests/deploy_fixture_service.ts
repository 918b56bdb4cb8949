/**
 * A service module for the deploy tests: what `DeployOptions.service` takes
 * (a default export, and options for every connection).
 */

import { Service } from "../mod.ts";

/** Answers where it runs. */
export default class WhereService extends Service {
  exposed_where(): { pid: number; home: string | undefined } {
    return { pid: Deno.pid, home: Deno.env.get("HOME") };
  }
}

/** Every connection to the deployed service gets this timeout. */
export const serveOptions = { timeout: 10_000 };
