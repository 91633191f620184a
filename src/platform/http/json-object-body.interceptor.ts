import {
  BadRequestException,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { errorBody } from './error-body.js';
import type { Observable } from 'rxjs';
import { depthExceeds } from './body-limits.js';

/** The ops bodies are flat; deeper nesting is refused before the recursive validators see it. */
const MAX_BODY_DEPTH = 8;

/**
 * Write endpoints take a JSON object and nothing else. Fastify already answers 400 for malformed
 * JSON; this catches what it accepts but we must not: a text or form body, or JSON that is a
 * string, array or null. Interceptors run before pipes, so the refusal names the body itself
 * instead of every field the validation pipe would then miss.
 */
@Injectable()
export class JsonObjectBodyInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, unknown>; body: unknown }>();
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    const isJson = /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/.test(type);
    const body = req.body;
    if (!isJson || body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new BadRequestException(
        errorBody(
          400,
          [
            isJson
              ? `body: must be a JSON object, not ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}`
              : `body: must be a JSON object sent with Content-Type: application/json (got ${type || 'no content type'})`,
          ],
          { fields: ['body'] },
        ),
      );
    }
    if (depthExceeds(body, MAX_BODY_DEPTH)) {
      throw new BadRequestException(
        errorBody(400, [`body: nested deeper than ${MAX_BODY_DEPTH} levels`], { fields: ['body'] }),
      );
    }
    return next.handle();
  }
}
