import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { SMALL_BODY_LIMIT_BYTES } from '../platform/http/body-limits.js';
import { checkEvaluatePlan } from './dto/evaluate-plan.check.js';
import { GateAuth } from './gate-auth.js';
import { GateService } from './gate.service.js';

export const GATE_EVALUATE_PATH = '/governor/evaluate';

/**
 * `POST /governor/evaluate`, Gate 0's hot path, registered on Fastify directly instead of through a
 * Nest controller: Nest's router runs a chain of promises per request (guards, pipes, interceptors,
 * the response) that the hot path does not need (docs/adr/0001-gate-route-on-fastify.md).
 * Nothing a controller gave is lost:
 * - the body rules of EvaluatePlanDto (checkEvaluatePlan), a 400 naming the field;
 * - Fastify's 413, its 400 on malformed JSON and the app's depth hook, which run for every route;
 * - errors reach Nest's exception layer (the adapter's error handler), though GateService never throws;
 * - the OpenAPI entry (GATE_EVALUATE_OPENAPI, added to the document by app.setup).
 * Who may ask is GateAuth's call (GATE_AUTH): it runs before the body is judged.
 */
@Injectable()
export class GateRoute implements OnModuleInit {
  constructor(
    private readonly host: HttpAdapterHost,
    private readonly gate: GateService,
    private readonly auth: GateAuth,
  ) {}

  /** Runs during app.init(), before Fastify is ready, like Nest's own route registration. */
  onModuleInit(): void {
    const fastify = this.host.httpAdapter.getInstance<FastifyInstance>();
    fastify.post(GATE_EVALUATE_PATH, (req, reply) => {
      const caller = this.auth.caller(req.headers.authorization, req.raw.socket);
      if (caller.kind === 'refused') {
        const { status, body, problem } = caller.refusal;
        this.gate.refused(problem, req.url);
        if (status === 401) void reply.header('WWW-Authenticate', 'Bearer realm="p28-gate"');
        return reply.code(status).send(body);
      }
      const checked = checkEvaluatePlan(req.body);
      if (checked.invalid) return reply.code(400).send(checked.invalid);
      // resolved value is sent as JSON with 200: ALLOW and BLOCK alike
      return this.gate.evaluate(checked.plan, caller.kind === 'anonymous');
    });
  }
}

const FAIL_OPEN_NOTE =
  'Missing or stale budget, Redis errors, timeouts, shadow mode and a qty no price can size are fail-open ' +
  'ALLOWs naming `fail_open`. In reduce_only (the kill switch) every plan that does not lower |position| ' +
  'is a BLOCK `p28_reduce_only_mode`, also with no budget or Redis unreadable.';

/**
 * The OpenAPI operation a controller's decorators would have produced; the schemas are the
 * EvaluatePlanDto and GateDecisionResponse components (passed to the document as extra models).
 */
export const GATE_EVALUATE_OPENAPI = {
  post: {
    // the id the controller route had: clients generated from the document keep their method name
    operationId: 'GovernorGateController_evaluate',
    summary: 'Gate 0 decision for a plan',
    description:
      'Role: service (or operator). With GATE_AUTH=optional (default) a caller without a token gets ' +
      'only {decision, reason, mode, enforced} and leaves no shadow record; with GATE_AUTH=required ' +
      'it gets 401. A present but invalid token is 401, a viewer token 403. ' +
      '200 for ALLOW and BLOCK alike. BLOCK only in ' +
      'enforce mode with a fresh budget, for a plan that does not reduce risk, when the symbol had a ' +
      `recent violation or the projected notional exceeds the budget. ${FAIL_OPEN_NOTE}`,
    tags: ['governor'],
    parameters: [],
    security: [{}, { bearer: [] }],
    requestBody: {
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/EvaluatePlanDto' } } },
    },
    responses: {
      '200': {
        description: 'the decision',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/GateDecisionResponse' } } },
      },
      '400': {
        description: 'invalid plan: `message` lists `field: rule`, `fields` names the fields',
      },
      '401': { description: 'invalid token, or no token with GATE_AUTH=required' },
      '403': { description: 'the token is valid but its role is not service or operator' },
      '413': { description: `body over ${SMALL_BODY_LIMIT_BYTES} bytes` },
      '415': { description: 'the body is not JSON (`content-type: application/json`)' },
    },
  },
};
