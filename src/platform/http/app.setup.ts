import {
  BadRequestException,
  ValidationPipe,
  type ArgumentMetadata,
  type ValidationError,
} from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import {
  BODY_LIMIT_BYTES,
  MAX_REQUEST_BODY_DEPTH,
  MAX_UNKNOWN_KEYS_REPORTED,
  MAX_VALIDATION_MESSAGES,
  depthExceeds,
  routeBodyLimit,
  unknownKeys,
} from './body-limits.js';
import { RedisUnavailableFilter } from './redis-unavailable.filter.js';
import { errorBody } from './error-body.js';
import { OpenApiExtras } from './openapi-extras.js';
import { Metrics } from '../observability/metrics.js';
import { installAccessLog } from '../logging/access-log.js';
import { checkBearer } from '../auth/bearer.js';
import { TokenRegistry } from '../auth/token-registry.js';

/** Flattens nested validation errors into `field.path: rule` strings, so a 400 names the field. */
function flattenValidationErrors(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((e) => {
    const path = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => `${path}: ${m}`);
    return [...own, ...flattenValidationErrors(e.children ?? [], path)];
  });
}

function badRequest(messages: string[], fields: string[]): BadRequestException {
  return new BadRequestException(
    errorBody(400, messages.slice(0, MAX_VALIDATION_MESSAGES), {
      fields: fields.slice(0, MAX_VALIDATION_MESSAGES),
    }),
  );
}

/**
 * The global ValidationPipe, with a cheap look at unknown keys first: class-validator builds an error
 * per unknown property (and the pipe a message each), so a 1 MB body of 120,000 keys cost seconds.
 * Past MAX_UNKNOWN_KEYS_REPORTED unknown keys the body is refused naming the first ones; fewer go
 * through class-validator as before, so ordinary mistakes still get every message.
 */
export class BoundedValidationPipe extends ValidationPipe {
  private readonly known = new Map<ArgumentMetadata['metatype'], ReadonlySet<string>>();

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const known = this.knownProperties(metadata.metatype);
    if (known && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const unknown = unknownKeys(value, known, MAX_UNKNOWN_KEYS_REPORTED + 1);
      if (unknown.length > MAX_UNKNOWN_KEYS_REPORTED) {
        const named = unknown.slice(0, MAX_UNKNOWN_KEYS_REPORTED);
        throw badRequest(
          named.map((k) => `${k}: property ${k} should not exist`),
          named,
        );
      }
    }
    return super.transform(value, metadata);
  }

  /** The properties a DTO declares (what `whitelist` keeps); undefined for non-DTO parameters. */
  private knownProperties(type: ArgumentMetadata['metatype']): ReadonlySet<string> | undefined {
    if (!type) return undefined;
    let names = this.known.get(type);
    if (!names) {
      const metas = getMetadataStorage().getTargetValidationMetadatas(type, '', true, false);
      names = new Set(metas.map((m) => m.propertyName));
      this.known.set(type, names);
    }
    return names.size > 0 ? names : undefined;
  }
}

/** The app's global pipe: unknown properties refused, 400 bodies naming the fields. */
export function createValidationPipe(): BoundedValidationPipe {
  return new BoundedValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) =>
      badRequest(flattenValidationErrors(errors), [...new Set(errors.map((e) => e.property))]),
  });
}

export function createAdapter(): FastifyAdapter {
  // Fastify answers 413 for bodies over the limit and 400 for malformed JSON before Nest sees them.
  // skipMiddie: the app has no Nest middleware (guards do that work), so @fastify/middie's hook
  // would only cost every request, the gate's included. Adding middleware means removing it.
  return new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, logger: false, skipMiddie: true });
}

/**
 * Options for creating the Nest app (main.ts and the tests alike). `bodyParser: false` leaves bodies
 * to Fastify's own JSON parser (secure-json-parse, the adapter's bodyLimit): Nest's replacement
 * builds a new parser on every request, and JSON is the only body this API takes (a form body,
 * which only Nest's parser read, now gets 415).
 */
export const NEST_APP_OPTIONS = { bodyParser: false } as const;

/** Everything main.ts applies to the app, shared with the e2e tests so they test the real thing. */
export function configureApp(app: NestFastifyApplication): void {
  app.useGlobalFilters(new RedisUnavailableFilter(app.getHttpAdapter()));
  const fastify = app.getHttpAdapter().getInstance();
  // routes register at init, after this: each small-bodied one gets its own limit (413 beyond)
  fastify.addHook('onRoute', (route) => {
    const limit = routeBodyLimit(route.url);
    if (limit !== undefined && (route.bodyLimit === undefined || route.bodyLimit > limit)) {
      route.bodyLimit = limit;
    }
  });
  // No endpoint takes nested bodies: refuse deep ones before class-transformer's recursion sees
  // them. A Fastify hook rather than a Nest interceptor keeps rxjs off the gate's hot path.
  fastify.addHook('preValidation', (req, reply, done) => {
    const body = req.body;
    if (body !== null && typeof body === 'object' && depthExceeds(body, MAX_REQUEST_BODY_DEPTH)) {
      void reply
        .code(400)
        .send(
          errorBody(400, [`body: nested deeper than ${MAX_REQUEST_BODY_DEPTH} levels`], { fields: ['body'] }),
        );
      return;
    }
    done();
  });
  const tokens = app.get(TokenRegistry, { strict: false });
  const suppressed = app.get(Metrics, { strict: false }).logSuppressed.labels('request_refused');
  installAccessLog(fastify, {
    tokenName: (header) => {
      const check = checkBearer(header, tokens);
      return check.kind === 'actor' ? check.actor.name : undefined;
    },
    onSuppressed: () => suppressed.inc(),
  });
  app.useGlobalPipes(createValidationPipe());
  setupOpenApi(app);
}

/** OpenAPI at /docs (UI) and /docs-json, generated from the controllers and DTOs. */
function setupOpenApi(app: NestFastifyApplication): void {
  const config = new DocumentBuilder()
    .setTitle('P2.8 Portfolio Risk Governor')
    .setDescription(
      'Per-symbol notional budgets, Gate 0 decisions and the shadow/enforce mode with its audit ledger. ' +
        'Protected endpoints take `Authorization: Bearer <token>` (roles viewer and operator; role service ' +
        'may call only POST /governor/evaluate).',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'token from `npm run token`' }, 'bearer')
    .build();
  // routes registered on Fastify directly (the gate's evaluate) bring their operations by hand
  const extras = openApiExtras(app);
  const document = SwaggerModule.createDocument(app, config, { extraModels: [...(extras?.models ?? [])] });
  for (const [path, op] of Object.entries(extras?.paths ?? {}))
    document.paths[path] = op as (typeof document.paths)[string];
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}

function openApiExtras(app: NestFastifyApplication): OpenApiExtras | undefined {
  try {
    return app.get(OpenApiExtras, { strict: false });
  } catch {
    return undefined;
  }
}
