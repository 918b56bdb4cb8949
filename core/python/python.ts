/**
 * Everything `@rdc/rdc/python` offers, gathered: also importable as the
 * `python` namespace (`python.connect`, `python.classic.connect`,
 * `python.item`, …).
 *
 * @module
 */

export { connect, connectStream, connectTls, connectUnix } from "./connect.ts";
export { type PythonServeOptions, type PythonServer, serve } from "./serve.ts";
export * as classic from "./classic.ts";
export type { PythonClassic, PythonSubprocess, PythonSubprocessOptions } from "./classic.ts";
export { PythonConnection } from "./connection.ts";
export type { PythonConnectOptions, PythonOptions } from "./options.ts";
export { type PythonStats, WireVersionError } from "./session.ts";
export type { WireVersion } from "./envelope.ts";
export { isPythonError, PythonError } from "./vinegar.ts";
export {
  bool,
  compare,
  contains,
  delItem,
  dir,
  eq,
  getattr,
  hash,
  item,
  len,
  obtain,
  op,
  repr,
  setItem,
  str,
  typeName,
} from "./helpers.ts";
export {
  Complex,
  ELLIPSIS,
  float,
  Kwargs,
  kwargs,
  NOT_IMPLEMENTED,
  PyFloat,
  Slice,
  Tuple,
  tuple,
} from "./values.ts";
export { ref } from "../wire/markers.ts";
