import type { Type } from '@nestjs/common';

/**
 * Operations of routes a feature registers on Fastify directly, which Nest's OpenAPI scanner cannot
 * see; a feature provides this and the document setup adds them.
 */
export abstract class OpenApiExtras {
  abstract readonly paths: Readonly<Record<string, object>>;
  abstract readonly models: ReadonlyArray<Type<unknown>>;
}
