/**
 * The owner's side of a `WritableStream` handed to the peer: WRITE, CLOSE
 * and ABORT requests on it, through one writer per stream. (A
 * `ReadableStream` handed over is pushed, then stepped with BATCH and RETURN:
 * see pushes.ts.)
 *
 * Contract: only a `WritableStream` this end exported is a target (the
 * netref is the capability: no policy is asked). Writes are applied in the
 * order they arrive; each answer comes once the stream's sink took the chunk
 * (or failed it), which is the peer's credit to send more.
 *
 * @module
 */

import { Op } from "../wire/messages.ts";
import { MAX_BATCH } from "./iteration.ts";

/** What this end keeps per stream the peer writes to. */
interface PeerWriter {
  readonly writer: WritableStreamDefaultWriter;
  /** The index of the next write to apply. */
  next: number;
  /** Writes that arrived before their turn, by index. */
  readonly early: Map<number, () => void>;
}

/** One writer per stream the peer writes to, taken at its first request. */
const writers = new WeakMap<WritableStream, PeerWriter>();

/**
 * Applies a WRITE (`args[0]` is the chunk, `args[1]` its index among the
 * peer's writes to that stream), CLOSE, or ABORT (with reason `args[0]`) to
 * `target`. Writes reach the sink in index order, whatever order their
 * requests started in.
 *
 * @throws {TypeError} when `target` is not a `WritableStream`, is locked by a
 *   writer of this end's own, or a write's index is taken or too far ahead.
 * @throws whatever the stream's sink fails with (the promise rejects).
 */
export function writeToStream(
  target: unknown,
  op: typeof Op.Write | typeof Op.Close | typeof Op.Abort,
  args: readonly unknown[],
): Promise<void> {
  if (!(target instanceof WritableStream)) {
    throw new TypeError(
      "WRITE, CLOSE and ABORT work only on a WritableStream this end handed over",
    );
  }
  let state = writers.get(target);
  if (!state) {
    if (target.locked) throw new TypeError("the WritableStream is locked by another writer");
    state = { writer: target.getWriter(), next: 0, early: new Map() };
    writers.set(target, state);
  }
  switch (op) {
    case Op.Write:
      return inTurn(state, args[1], (writer) => writer.write(args[0]));
    case Op.Close:
      return state.writer.close();
    case Op.Abort:
      return state.writer.abort(args[0]);
    default:
      op satisfies never;
      throw new TypeError(`unknown stream operation ${op}`);
  }
}

/**
 * Runs `write` when the write numbered `index` is next (at once if it is),
 * then makes the following one next; resolves as the write does.
 */
function inTurn(
  state: PeerWriter,
  index: unknown,
  write: (writer: WritableStreamDefaultWriter) => Promise<void>,
): Promise<void> {
  const { next, early } = state;
  if (
    !Number.isInteger(index) || (index as number) < next || (index as number) >= next + MAX_BATCH ||
    early.has(index as number)
  ) {
    throw new TypeError(`a write's index must be new and from ${next} to ${next + MAX_BATCH - 1}`);
  }
  const apply = (): Promise<void> => {
    const written = write(state.writer);
    state.next++;
    const following = early.get(state.next);
    early.delete(state.next);
    following?.();
    return written;
  };
  if (index === next) return apply();
  return new Promise<void>((resolve) => early.set(index as number, resolve)).then(apply);
}
