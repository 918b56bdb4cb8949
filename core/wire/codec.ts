/**
 * The codec layer: one message array to one frame of MessagePack and back.
 * Boxing (what a JavaScript value becomes on the wire) is the layer above;
 * this file knows only MessagePack.
 *
 * @module
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
import { peerFault } from "../errors.ts";

/**
 * Encodes and decodes messages for one connection.
 *
 * Contract: not re-entrant (each end owns one; encoding never calls back into
 * user code because values are boxed first). `encode` returns a complete frame,
 * header included, in a buffer nobody else holds.
 */
export class MessageCodec {
  #encoder: Encoder;
  #decoder: Decoder;

  /**
   * Limits the lengths the decoder accepts to `maxFrameSize`; the encoder
   * accepts values `maxDepth` deep inside a message.
   */
  constructor(maxFrameSize: number, maxDepth: number) {
    // Messages wrap values a few levels deep (message, args, tagged containers).
    this.#encoder = new Encoder({ ignoreUndefined: false, maxDepth: 2 * maxDepth + 8 });
    this.#decoder = new Decoder({
      maxStrLength: maxFrameSize,
      maxBinLength: maxFrameSize,
      maxArrayLength: maxFrameSize,
      maxMapLength: maxFrameSize,
      maxExtLength: maxFrameSize,
    });
  }

  /**
   * One message (already boxed) to its payload: a view into the encoder's
   * buffer, valid until the next `encode` (hand it to the frame writer at once).
   */
  encode(message: unknown[]): Uint8Array {
    return this.#encoder.encodeSharedRef(message);
  }

  /**
   * One payload to its message tree.
   *
   * @throws {ProtocolError} for bytes that are not exactly one MessagePack value,
   *   or that carry a `__proto__` map key.
   */
  decode(payload: Uint8Array): unknown {
    try {
      return this.#decoder.decode(payload);
    } catch (error) {
      throw peerFault(`undecodable frame: ${(error as Error).message}`, { cause: error });
    }
  }
}
