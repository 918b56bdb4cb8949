/**
 * Talking to Python RPyC on its own wire (`@rdc/rdc/python`): drive Python
 * `rpyc_classic` servers and RPyC services from Deno through rdc's netrefs,
 * and serve Deno objects to Python's `rpyc.connect`. Both RPyC 5.x and 6.x
 * are spoken, told apart automatically.
 *
 * ```ts
 * import { python } from "@rdc/rdc/python";
 * // await using py = await python.classic.connect("127.0.0.1", 18812);
 * // console.log(await py.modules.os.getcwd());
 * // console.log(await py.builtins.len([1, 2, 3])); // 3
 * ```
 *
 * @module
 */

export * as python from "./python.ts";
export * from "./python.ts";
