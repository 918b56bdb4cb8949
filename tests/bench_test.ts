/**
 * The bench (`deno task bench`) in its smoke mode: one tiny round of every
 * scenario against every peer, so the bench cannot rot unnoticed. Its
 * figures are not judged here (speed goals live in the bench itself).
 */

import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);

/** Whether Debian's python3-rpyc is importable by /usr/bin/python3. */
async function hasRpyc(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import rpyc"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

interface BenchJson {
  peers: string[];
  measured: {
    title: string;
    unit: string;
    figures: Record<string, { median: number }>;
    failed?: Record<string, string>;
  }[];
  checks: { what: string; op: string; ratio?: { median: number } }[];
  singles: { peer: string; scenario: string; met?: boolean }[];
}

Deno.test("bench: every scenario runs for rdc and each peer (smoke mode)", async () => {
  const rpyc = await hasRpyc();
  if (!rpyc) {
    const message = "python3-rpyc is not installed (apt-get install python3-rpyc)";
    if (Deno.env.get("CI") === "true") throw new Error(`the bench test needs RPyC: ${message}`);
    console.warn(`bench test: RPyC left out: ${message}`);
  }
  const out = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const peers = rpyc ? "rpyc,capnweb" : "capnweb";
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--v8-flags=--expose-gc",
        "bench/main.ts",
        "--smoke",
        "--peers",
        peers,
        "--out",
        out,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    assert.equal(code, 0, text);
    const result = JSON.parse(await Deno.readTextFile(out)) as BenchJson;
    assert.deepEqual(result.peers, ["rdc", ...peers.split(",")]);
    // Ten scenarios, plus rdc's synchronous call and the raw echo with fresh buffers; bulk
    // echo has a third size and the ping-under-pull gives three rows; the call over the other
    // transports (11) has a row for each of Worker, MessagePort and WebSocket. Bulk data adds
    // iteration and its copy baseline (13), the stream (14), the echo with transfer() and the
    // bytes on the wire with zstd and with deflate, and the echo's time with each and without
    // (15). With RPyC, the Python interop adds two (16).
    assert.equal(result.measured.length, rpyc ? 30 : 28, text);
    /** The subjects beside rdc in a bulk-data row, by its title; undefined for the other rows. */
    const bulkPeers = (title: string): string[] | undefined =>
      /^13 iterate/.test(title)
        ? ["rpyc"]
        : /^14 /.test(title)
        ? ["capnweb"]
        : /^15 bytes on the wire: /.test(title)
        ? ["rpyc"]
        : /with transfer\(\)/.test(title)
        ? ["raw"]
        : /^15 |copied by value/.test(title)
        ? []
        : undefined;
    for (const scenario of result.measured) {
      assert.deepEqual(scenario.failed ?? {}, {}, `${scenario.title} failed`);
      if (/fresh buffers/.test(scenario.title)) {
        // A floor: the raw echo alone.
        assert.ok(scenario.figures.raw?.median > 0, `${scenario.title}: no raw figure`);
        continue;
      }
      if (/^16 /.test(scenario.title)) {
        // Deno through @rdc/rdc/python beside RPyC's own client; the round trips are Deno's alone.
        const expected = /round trips/.test(scenario.title) ? ["deno"] : ["deno", "rpyc"];
        assert.deepEqual(Object.keys(scenario.figures).sort(), expected, scenario.title);
        for (const [name, figure] of Object.entries(scenario.figures)) {
          assert.ok(figure.median > 0, `${scenario.title}: ${name} gave ${figure.median}`);
        }
        continue;
      }
      if (/^11 call over /.test(scenario.title)) {
        // rdc beside the bare carrier's ping-pong, and no peer.
        assert.deepEqual(Object.keys(scenario.figures).sort(), ["raw", "rdc"], scenario.title);
        for (const [name, figure] of Object.entries(scenario.figures)) {
          assert.ok(figure.median > 0, `${scenario.title}: ${name} gave ${figure.median}`);
        }
        continue;
      }
      // The synchronous call is rdc's alone.
      const sync = /sync call/.test(scenario.title);
      // Cap'n Web has no pull: the big table's JSON is over its message limit.
      const capnweb = sync || /ping|pull/.test(scenario.title) ? [] : ["capnweb"];
      const others = (bulkPeers(scenario.title) ?? [...capnweb, ...(rpyc && !sync ? ["rpyc"] : [])])
        .filter((peer) => rpyc || peer !== "rpyc");
      for (const peer of ["rdc", ...others]) {
        const figure = scenario.figures[peer]?.median;
        assert.ok(
          figure > 0 && Number.isFinite(figure),
          `${scenario.title}: ${peer} gave ${figure}`,
        );
      }
    }
    for (const check of result.checks.filter((c) => c.op !== "info" && !c.what.includes("RPyC"))) {
      assert.ok(check.ratio && Number.isFinite(check.ratio.median), `${check.what}: no figure`);
    }
    const rdcSingles = result.singles.filter((s) => s.peer === "rdc");
    assert.equal(rdcSingles.length, 3, "churn, soak and the busy call ran for rdc");
    assert.ok(rdcSingles.some((s) => s.scenario.startsWith("12 ping during")), "no busy-call row");
    assert.ok(rdcSingles.find((s) => s.scenario.includes("churn"))?.met, "churn returned exports");
    assert.match(text, /1 call add\(1, 2\)/);
    assert.match(text, /1 sync call add\(1, 2\)/);
    assert.ok(
      result.checks.find((c) => c.what.includes("sync call ÷ rdc async"))?.ratio,
      "the sync call's goal has a figure",
    );
    assert.match(text, /worst ping on a 2nd connection/);
    for (const carrier of ["Worker", "MessagePort", "WebSocket"]) {
      assert.ok(
        result.checks.find((c) => c.what.startsWith(`11 rdc call over a ${carrier}`))?.ratio,
        `the ${carrier} call's goal has a figure`,
      );
    }
    assert.ok(
      result.checks.find((c) => c.what.includes("fresh buffers"))?.ratio,
      "the echo's floor has a figure",
    );
  } finally {
    await Deno.remove(out);
  }
});
