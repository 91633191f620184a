/**
 * Failures of the domain, thrown by services that also run from timers; the HTTP layer maps them to
 * the contract's bodies (`{statusCode, error, message, ...details}`) in one filter.
 */
export abstract class DomainError extends Error {
  constructor(
    message: string | string[],
    /** extra fields of the answer body, after `message` (e.g. `current_version`, `fields`) */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(Array.isArray(message) ? message.join('; ') : message);
    this.body = message;
  }
  /** the `message` of the answer: one string, or a list (a 400 names every bad field) */
  readonly body: string | string[];
}

/** The request raced another change or meets a state that forbids it (HTTP 409). */
export class ConflictError extends DomainError {
  override readonly name = 'ConflictError';
}

/** A dependency (Redis) cannot serve the request now; retrying later may work (HTTP 503). */
export class UnavailableError extends DomainError {
  override readonly name = 'UnavailableError';
}

/** The request names something wrong (HTTP 400). */
export class InvalidInputError extends DomainError {
  override readonly name = 'InvalidInputError';
}

/** Too much of one kind of work is already running here; retrying when it ends will work (HTTP 429). */
export class BusyError extends DomainError {
  override readonly name = 'BusyError';
}
