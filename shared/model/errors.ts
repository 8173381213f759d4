/** Errors the model reports; the API maps each code to an HTTP status. */
export type ModelErrorCode = 'conflict' | 'not_found' | 'invalid' | 'forbidden';

export class ModelError extends Error {
  override name = 'ModelError';
  constructor(
    readonly code: ModelErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
