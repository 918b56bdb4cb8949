/**
 * Remote errors over real loopback TCP: what a remote throw looks like here,
 * `instanceof` for built-in and registered classes, errors crossing several
 * callback levels, and thrown values that are not errors.
 */

import assert from "node:assert/strict";
import { types } from "node:util";
import { registerErrorClass, RemoteError, Service } from "../mod.ts";
import { pair, rejection } from "./_helpers.ts";

/** Registered on both ends (one process here, so once). */
class QuotaError extends Error {
  override name = "QuotaError";
  constructor(message: string, readonly limit: number) {
    super(message);
  }
}
registerErrorClass(QuotaError);

/** Never registered. */
class UnregisteredError extends Error {
  override name = "UnregisteredError";
}

const seenByServer: unknown[] = [];

class ErrorsService extends Service {
  exposed_throwPlain(): never {
    const error = new Error("plain failure", { cause: "the reason" }) as Error & {
      code: number;
      details: unknown;
    };
    error.code = 42;
    error.details = { path: ["a", "b"], retry: false };
    throw error;
  }
  exposed_throwWithErrorCause(): never {
    throw new Error("outer", { cause: new TypeError("inner") });
  }
  exposed_throwType(value: { toString(): string } | null = null): string {
    return value!.toString(); // a real TypeError from the runtime
  }
  exposed_throwRange(): never {
    throw new RangeError("out of range");
  }
  async exposed_throwQuota(): Promise<never> {
    await new Promise((r) => setTimeout(r, 1));
    throw new QuotaError("quota exceeded", 10);
  }
  exposed_throwUnregistered(): never {
    throw new UnregisteredError("nobody registered me");
  }
  exposed_throwValue(kind: string): never {
    switch (kind) {
      case "string":
        throw "just a string";
      case "number":
        throw 404;
      case "object":
        throw { code: "E_OBJ", list: [1, 2] };
      case "null":
        throw null;
      default:
        throw undefined;
    }
  }
  async exposed_viaCallback(callback: () => Promise<unknown>): Promise<unknown> {
    try {
      return await callback();
    } catch (error) {
      seenByServer.push(error);
      throw error;
    }
  }
  async exposed_nested(depth: number, callback: (n: number) => Promise<unknown>) {
    return await callback(depth - 1);
  }
}

Deno.test("errors: a remote Error carries name, message, cause, own props and stacks", async () => {
  await using p = await pair(ErrorsService);
  const error = await rejection(p.client.root.throwPlain()) as RemoteError & {
    code: number;
    details: unknown;
  };
  assert.ok(error instanceof RemoteError);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "Error");
  assert.equal(error.message, "plain failure");
  assert.equal(error.cause, "the reason");
  assert.equal(error.code, 42);
  assert.deepEqual(error.details, { path: ["a", "b"], retry: false });
  assert.equal(typeof error.remoteStack, "string");
  assert.match(error.remoteStack, /exposed_throwPlain/, "the remote stack names the function");
  const stack = error.stack ?? "";
  assert.match(stack, /^Error: plain failure/);
  assert.match(stack, /exposed_throwPlain/, "stack has the remote frames");
  const marker = stack.indexOf("<rdc: remote call>");
  assert.ok(marker > stack.indexOf("exposed_throwPlain"), "remote frames come first");
  assert.match(stack.slice(marker), /\n {4}at /, "then the local frames");
  // The connection is still usable.
  assert.equal(await rejection(p.client.root.throwRange()) instanceof RangeError, true);
});

Deno.test("errors: a cause that is an error arrives as a remote error too", async () => {
  await using p = await pair(ErrorsService);
  const error = await rejection(p.client.root.throwWithErrorCause()) as Error;
  assert.ok(error instanceof RemoteError);
  assert.equal(error.message, "outer");
  const cause = error.cause as Error;
  assert.ok(cause instanceof TypeError, `cause is ${cause}`);
  assert.ok(cause instanceof RemoteError);
  assert.equal(cause.name, "TypeError");
  assert.equal(cause.message, "inner");
  assert.match((cause as RemoteError).remoteStack, /exposed_throwWithErrorCause/);
});

Deno.test("errors: instanceof works for built-in and registered classes", async (t) => {
  await using p = await pair(ErrorsService);
  const root = p.client.root;
  await t.step("TypeError", async () => {
    const error = await rejection(root.throwType()) as Error;
    assert.ok(error instanceof TypeError);
    assert.ok(error instanceof RemoteError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, "TypeError");
    assert.match(error.message, /null/);
    assert.match((error as RemoteError).remoteStack, /exposed_throwType/);
  });
  await t.step("RangeError", async () => {
    const error = await rejection(root.throwRange()) as Error;
    assert.ok(error instanceof RangeError);
    assert.ok(!(error instanceof TypeError));
    assert.equal(error.message, "out of range");
  });
  await t.step("a registered class", async () => {
    const error = await rejection(root.throwQuota()) as QuotaError;
    assert.ok(error instanceof QuotaError, `got ${error}`);
    assert.ok(error instanceof RemoteError);
    assert.equal(error.name, "QuotaError");
    assert.equal(error.message, "quota exceeded");
    assert.equal(error.limit, 10, "own props survive");
    assert.match(error.stack ?? "", /^QuotaError: quota exceeded/);
    assert.match(error.stack ?? "", /exposed_throwQuota/);
  });
  await t.step("an unregistered class arrives as a RemoteError with its name", async () => {
    const error = await rejection(root.throwUnregistered()) as Error;
    assert.ok(error instanceof RemoteError);
    assert.ok(!(error instanceof UnregisteredError));
    assert.equal(error.name, "UnregisteredError");
    assert.equal(error.message, "nobody registered me");
    assert.match(String(error), /UnregisteredError: nobody registered me/);
    assert.match(error.stack ?? "", /^UnregisteredError: nobody registered me/);
  });
  await t.step("local errors are not RemoteErrors", () => {
    assert.ok(!(new TypeError("local") instanceof RemoteError));
    assert.ok(!(new QuotaError("local", 1) instanceof RemoteError));
  });
});

Deno.test("errors: a callback's throw travels back through every level", async (t) => {
  await using p = await pair(ErrorsService);
  const root = p.client.root;

  await t.step("client → server → client callback throws → server → client", async () => {
    seenByServer.length = 0;
    function throwInCallback(): never {
      throw new RangeError("thrown in the client's callback");
    }
    const error = await rejection(root.viaCallback(throwInCallback)) as Error;
    // The server saw the client's error as a remote RangeError …
    assert.equal(seenByServer.length, 1);
    const onServer = seenByServer[0] as RemoteError;
    assert.ok(onServer instanceof RangeError);
    assert.ok(onServer instanceof RemoteError);
    assert.equal(onServer.message, "thrown in the client's callback");
    // … and rethrew it; the client sees the same class and message again.
    assert.ok(error instanceof RangeError, `got ${error}`);
    assert.ok(error instanceof RemoteError);
    assert.equal(error.message, "thrown in the client's callback");
    // Its stack starts at the callback that threw, and shows both crossings.
    assert.match((error as RemoteError).remoteStack, /throwInCallback/);
    assert.match(
      error.stack ?? "",
      /^RangeError: thrown in the client's callback\n {4}at throwInCallback/,
    );
    assert.equal((error.stack ?? "").split("<rdc: remote call>").length - 1, 2);
  });

  await t.step("a registered class thrown five levels down", async () => {
    const callback = async (n: number): Promise<unknown> => {
      if (n === 0) throw new QuotaError("deep down", n);
      return await root.nested(n, callback);
    };
    const error = await rejection(root.nested(5, callback)) as QuotaError;
    assert.ok(error instanceof QuotaError, `got ${error}`);
    assert.ok(error instanceof RemoteError);
    assert.equal(error.message, "deep down");
    assert.equal(error.limit, 0);
  });

  await t.step("a non-Error value thrown in a callback", async () => {
    const thrown = await rejection(root.viaCallback(() => {
      throw { reason: "object from the client" };
    }));
    assert.deepEqual(thrown, { reason: "object from the client" });
  });

  assert.equal(p.client.closed, false);
  assert.equal(p.client.stats().pendingRequests, 0);
});

Deno.test("errors: throwing a non-Error value rejects with that value", async () => {
  await using p = await pair(ErrorsService);
  const root = p.client.root;
  assert.equal(await rejection(root.throwValue("string")), "just a string");
  assert.equal(await rejection(root.throwValue("number")), 404);
  const object = await rejection(root.throwValue("object"));
  assert.deepEqual(object, { code: "E_OBJ", list: [1, 2] });
  assert.ok(!(object instanceof RemoteError));
  assert.equal(await rejection(root.throwValue("null")), null);
  let undefinedRejected = false;
  try {
    await root.throwValue("undefined");
  } catch (error) {
    undefinedRejected = true;
    assert.equal(error, undefined);
  }
  assert.ok(undefinedRejected, "throwing undefined still rejects");
});

Deno.test("errors: the local part of the stack is the awaiting caller's, async frames included", async () => {
  await using p = await pair(ErrorsService);
  async function callerOfTheCall(): Promise<void> {
    await p.client.root.throwPlain();
  }
  async function outerCaller(): Promise<void> {
    await callerOfTheCall();
  }
  const error = await rejection(outerCaller()) as RemoteError;
  const stack = error.stack ?? "";
  const marker = stack.indexOf("<rdc: remote call>");
  assert.ok(marker > 0, stack);
  assert.match(stack.slice(marker), /at async callerOfTheCall/);
  assert.match(stack.slice(marker), /at async outerCaller/);
  assert.ok(!stack.slice(marker).includes("#readLoop"), "not the read loop's frames");
});

Deno.test("errors: a remote error of a known class is a native error of that class", () => {
  const error = RemoteError.from({
    className: "TypeError",
    name: "TypeError",
    message: "null has no x",
    stack: "TypeError: null has no x\n    at remote (server.ts:1:1)",
    hasCause: false,
    cause: undefined,
    props: {},
  });
  assert.ok(error instanceof TypeError);
  assert.ok(types.isNativeError(error), "REPLs and inspectors print it as an error");
  assert.equal(error.message, "null has no x");
  assert.match(Deno.inspect(error), /TypeError: null has no x/);
});
