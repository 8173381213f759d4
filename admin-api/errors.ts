/** JSON errors: `{error: {code, message, details}}` with the matching HTTP status. */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { ModelError } from '../shared/model/errors';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const MODEL_STATUS = { conflict: 409, not_found: 404, invalid: 400, forbidden: 403 } as const;

export function zodToApiError(err: ZodError, where: 'body' | 'query'): ApiError {
  const issues = err.issues.map((i) => ({ field: i.path.join('.') || where, message: i.message }));
  const first = issues[0];
  return new ApiError(400, 'invalid_request', `${first.field}: ${first.message}`, { issues });
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

/** Every failure leaves as JSON; only a genuine bug becomes a 500, and its detail is logged, not returned. */
export function errorHandler(log: { error(obj: object, msg: string): void }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let e: ApiError;
    if (err instanceof ApiError) e = err;
    else if (err instanceof ModelError) e = new ApiError(MODEL_STATUS[err.code], err.code, err.message, err.details);
    else if (err instanceof ZodError) e = zodToApiError(err, 'body');
    else if (err?.type === 'entity.parse.failed') e = new ApiError(400, 'invalid_json', 'request body is not valid JSON');
    else if (err?.type === 'entity.too.large') e = new ApiError(413, 'too_large', 'request body is too large');
    else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      e = new ApiError(err.status, 'bad_request', String(err.message ?? 'bad request'));
    } else {
      log.error({ err, method: req.method, path: req.path }, 'unexpected API error');
      e = new ApiError(500, 'internal', 'internal error');
    }
    res.status(e.status).json({ error: { code: e.code, message: e.message, ...(e.details !== undefined && { details: e.details }) } });
  };
}
