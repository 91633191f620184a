import { HttpStatus } from '@nestjs/common';
import {
  BusyError,
  ConflictError,
  InvalidInputError,
  UnavailableError,
  type DomainError,
} from '../../core/errors.js';

const REASON: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

export interface ErrorBody<M extends string | string[] = string | string[]> {
  statusCode: number;
  error: string;
  message: M;
}

/** The contract's error body (docs/contract.md §5 HTTP API): built here and nowhere else. */
export function errorBody<M extends string | string[], D extends object = Record<string, unknown>>(
  statusCode: number,
  message: M,
  details?: Readonly<D>,
): ErrorBody<M> & D {
  return { statusCode, error: REASON[statusCode] ?? 'Error', message, ...details } as ErrorBody<M> & D;
}

/** The HTTP status a domain error answers with, or undefined for an error that is not one. */
export function domainStatus(err: unknown): number | undefined {
  if (err instanceof ConflictError) return HttpStatus.CONFLICT;
  if (err instanceof UnavailableError) return HttpStatus.SERVICE_UNAVAILABLE;
  if (err instanceof InvalidInputError) return HttpStatus.BAD_REQUEST;
  if (err instanceof BusyError) return HttpStatus.TOO_MANY_REQUESTS;
  return undefined;
}

export const domainErrorBody = (status: number, err: DomainError) => errorBody(status, err.body, err.details);
