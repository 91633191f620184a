import {
  BadRequestException,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Observable } from 'rxjs';

/** Nesting depth without recursion, so a hostile body cannot overflow the stack here either. */
export function depthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d >= max) return true;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

/** No endpoint takes nested bodies; anything deeper is refused before the recursive validators see it. */
export const MAX_REQUEST_BODY_DEPTH = 8;

/**
 * Global: a body nested deeper than MAX_REQUEST_BODY_DEPTH gets a 400 naming `body` instead of
 * reaching class-transformer, whose recursion a hostile body could overflow (a 500).
 */
@Injectable()
export class BodyDepthInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const body = ctx.switchToHttp().getRequest<{ body?: unknown }>().body;
    if (body !== null && typeof body === 'object' && depthExceeds(body, MAX_REQUEST_BODY_DEPTH)) {
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: [`body: nested deeper than ${MAX_REQUEST_BODY_DEPTH} levels`],
        fields: ['body'],
      });
    }
    return next.handle();
  }
}
