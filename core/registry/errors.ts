/**
 * The error of service discovery.
 *
 * @module
 */

/**
 * Discovery failed (RPyC's `DiscoveryError`, and its `ForbiddenError` for a
 * registry that does not allow listing): no registry answered, the registry
 * refused the request, no server of the name is registered, or none of those
 * registered could be reached. The message says which; `cause` holds what
 * went wrong underneath, when something did.
 */
export class DiscoveryError extends Error {
  /** `message` says what failed, naming the registry or the service. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DiscoveryError";
  }
}
