/**
 * The service the fuzzer attacks, and the {@linkcode ServiceProbe} that
 * counts its hanging calls, so the runner can tell a call that outlived its
 * connection.
 *
 * @module
 */

import { type Connection, currentCall, Service } from "../../mod.ts";

/** What the service under test counts across its instances. */
export class ServiceProbe {
  /** Calls of `hang` ever started (but those of the budget check). */
  hangs = 0;
  /** Calls of `hang` the budget check made. */
  budgetHangs = 0;
  /** Calls of `hang` that started cancelled already (their connection had closed). */
  lateHangs = 0;
  /** Calls of `hang` still waiting for their cancellation: call number → its connection. */
  readonly hanging = new Map<number, string>();
}

/** The argument of the `hang` calls the pending-budget check makes. */
export const BUDGET_HANG = "budget check";

/** The object `make` returns: methods the peer may call, state to see that calls land. */
class Counter {
  #value: number;
  constructor(start: number) {
    this.#value = start;
  }
  exposed_add(step: number): number {
    this.#value += step;
    return this.#value;
  }
  exposed_value(): number {
    return this.#value;
  }
  exposed_items(): number[] {
    return [this.#value, this.#value + 1];
  }
}

/**
 * The service the fuzzer attacks, one class per server: echo, make an
 * object, call a callback, hang until cancelled, and a few more members so
 * that the corpus covers every operation. `probe` counts the hanging calls,
 * so the runner can tell a call that outlived its connection.
 */
export function fuzzService(probe: ServiceProbe, hold?: unknown[]): new () => Service {
  return class FuzzService extends Service {
    /** Keeps what the peer sent (when recording), so no collection adds RELEASEs. */
    #held(values: unknown[]): void {
      hold?.push(...values);
    }

    exposed_config = { size: 3, nested: { deep: [1, 2, 3], label: "cfg" } };

    exposed_echo(value: unknown): unknown {
      this.#held([value]);
      return value;
    }

    exposed_make(start = 0): Counter {
      return new Counter(typeof start === "number" ? start : 0);
    }

    async exposed_call(callback: (...args: unknown[]) => unknown, ...args: unknown[]) {
      this.#held([callback, ...args]);
      return await callback(...args);
    }

    async exposed_callMember(target: Record<string, unknown>, name: string, ...args: unknown[]) {
      this.#held([target, ...args]);
      return await (target[name] as (...args: unknown[]) => unknown)(...args);
    }

    exposed_hang(purpose?: unknown): Promise<string> {
      const call = currentCall(); // read before the first await, as it must be
      const signal = call.signal;
      // The budget check's own calls are tracked like the others, but not counted.
      const id = purpose === BUDGET_HANG ? -++probe.budgetHangs : probe.hangs++;
      if (signal.aborted) {
        // Served after its connection closed (it waited for a lazy path, say): nothing to wait for.
        probe.lateHangs++;
        return Promise.resolve("cancelled");
      }
      probe.hanging.set(id, (call.connection as Connection).description);
      return new Promise((resolve) => {
        signal.addEventListener("abort", () => {
          probe.hanging.delete(id);
          resolve("cancelled");
        }, { once: true });
      });
    }

    exposed_f(n: number): number {
      return n * 2;
    }

    exposed_fail(message: string): never {
      const error = new RangeError(String(message));
      error.stack = `RangeError: ${error.message}\n    at fail (fuzz service)`;
      throw error;
    }

    *exposed_range(n: number): Generator<number> {
      for (let i = 0; i < Math.min(Number(n) || 0, 100); i++) yield i;
    }

    exposed_later(value: unknown): { promise: Promise<unknown> } {
      return { promise: Promise.resolve(value) };
    }

    exposed_size(bytes: ArrayBufferView | ArrayBuffer): number {
      return bytes.byteLength;
    }
  };
}
