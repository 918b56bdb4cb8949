/**
 * The module a deployment serves by default: classic mode (the classic
 * service with the permissive policy), in the shape `DeployOptions.service`
 * expects.
 *
 * @module
 */

export { ClassicService as default } from "../core/classic/service.ts";
export { PERMISSIVE as serveOptions } from "../core/session/policy.ts";
