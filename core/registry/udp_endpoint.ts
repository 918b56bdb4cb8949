/**
 * The registry over UDP: a request a datagram, its reply a datagram back to
 * the sender.
 *
 * @module
 */

import dgram from "node:dgram";
import { withContext } from "../errors.ts";
import { type Logger, ThrottledLog } from "../log.ts";
import type { Endpoint, RequestHandler } from "./endpoint.ts";

/**
 * Binds a UDP socket on `hostname:port` and answers each datagram through
 * `handler`.
 *
 * @throws the runtime's error when binding fails, naming the address.
 */
export async function listenUdp(
  hostname: string,
  port: number,
  handler: RequestHandler,
  logger: Logger,
): Promise<Endpoint> {
  const socket = dgram.createSocket(hostname.includes(":") ? "udp6" : "udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, hostname, () => {
        socket.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    socket.close();
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    throw withContext(error, `cannot listen on udp ${host}:${port}`);
  }
  socket.on("error", (error) => logger("error", `registry socket: ${error.message}`));
  const sendFailures = new ThrottledLog(logger);
  socket.on("message", (datagram: Uint8Array, sender: dgram.RemoteInfo) => {
    const reply = handler.respond(datagram, sender.address, false);
    if (reply === undefined) return;
    socket.send(reply, sender.port, sender.address, (error) => {
      if (error) {
        sendFailures.warn(`cannot reply to ${sender.address}:${sender.port}: ${error.message}`);
      }
    });
  });
  const bound = socket.address();
  return {
    addr: { transport: "udp", hostname: bound.address, port: bound.port },
    close: () => new Promise<void>((resolve) => socket.close(resolve)),
  };
}
