/**
 * Deno's REPL with `conn` bound to a classic connection: what `rdc shell`
 * and `rdc deploy` open.
 *
 * @module
 */

/**
 * Runs `deno repl` (with every permission) after evaluating `setup` then
 * `open`, a JavaScript expression for the connection (a promise of one, or
 * a synchronous one), inside it: the connection is made by the REPL
 * process, which owns it. `what` names the connection in the line printed
 * once it is open (`rdc COMMAND: conn is WHAT to DESCRIPTION`). If `open`
 * fails, the REPL ends with one line (`rdc COMMAND: reason`) and status 1
 * before reading input. Resolves with the REPL's exit status.
 */
export async function runClassicRepl(
  command: string,
  setup: string,
  open: string,
  what = "a classic connection",
): Promise<number> {
  const init = [
    setup,
    `var conn;`,
    `try { conn = await ${open}; } catch (error) {`,
    `console.error("rdc ${command}: " + error.message); Deno.exit(1); }`,
    `console.log("rdc ${command}: conn is ${what} to " + conn.description);`,
  ].join(" ");
  const repl = new Deno.Command(Deno.execPath(), {
    args: ["repl", "--allow-all", "--quiet", `--eval=${init}`],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await repl.status).code;
}
