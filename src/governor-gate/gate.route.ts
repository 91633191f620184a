import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { SMALL_BODY_LIMIT_BYTES } from '../common/body-limits.js';
import { checkEvaluatePlan } from './dto/evaluate-plan.check.js';
import { GateService } from './gate.service.js';

export const GATE_EVALUATE_PATH = '/governor/evaluate';

/**
 * `POST /governor/evaluate`, Gate 0's hot path, registered on Fastify directly instead of through a
 * Nest controller. Nest's router (a chain of promises per request for guards, pipes, interceptors and
 * the response) cost about 3 µs of the ~34 µs of server CPU a decision takes (a CPU profile, and
 * both routes timed in one process), and the gate must keep within 0.8× of a bare node:http server
 * doing the same read (`bench/gate-evaluate.ts`).
 * Nothing a controller gave is lost:
 * - the body rules of EvaluatePlanDto (checkEvaluatePlan), a 400 naming the field;
 * - Fastify's 413, its 400 on malformed JSON and the app's depth hook, which run for every route;
 * - errors reach Nest's exception layer (the adapter's error handler), though GateService never throws;
 * - the OpenAPI entry (GATE_EVALUATE_OPENAPI, added to the document by app.setup).
 * Open (no token): the governor service calls it.
 */
@Injectable()
export class GateRoute implements OnModuleInit {
  constructor(
    private readonly host: HttpAdapterHost,
    private readonly gate: GateService,
  ) {}

  /** Runs during app.init(), before Fastify is ready, like Nest's own route registration. */
  onModuleInit(): void {
    const fastify = this.host.httpAdapter.getInstance<FastifyInstance>();
    fastify.post(GATE_EVALUATE_PATH, (req, reply) => {
      const checked = checkEvaluatePlan(req.body);
      if (checked.invalid) return reply.code(400).send(checked.invalid);
      // resolved value is sent as JSON with 200: ALLOW and BLOCK alike
      return this.gate.evaluate(checked.plan);
    });
  }
}

const FAIL_OPEN_NOTE =
  'Missing or stale budget, Redis errors, timeouts and shadow mode are fail-open ALLOWs naming `fail_open`.';

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
      'Open (no token): the governor service calls it. 200 for ALLOW and BLOCK alike. BLOCK only in ' +
      'enforce mode with a fresh budget, for a plan that does not reduce risk, when the symbol had a ' +
      `recent violation or the projected notional exceeds the budget. ${FAIL_OPEN_NOTE}`,
    tags: ['governor'],
    parameters: [],
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
      '413': { description: `body over ${SMALL_BODY_LIMIT_BYTES} bytes` },
      '415': { description: 'the body is not JSON (`content-type: application/json`)' },
    },
  },
};
