import { Controller, Get, Res } from '@nestjs/common';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import type { FastifyReply } from 'fastify';
import { Metrics } from './metrics.js';

/** `/metrics` through nestjs-prometheus, serving this app's registry merged with the process defaults. */
@Controller()
export class MetricsController extends PrometheusController {
  constructor(private readonly metrics: Metrics) {
    super();
  }

  @Get()
  override async index(@Res({ passthrough: true }) response: FastifyReply): Promise<string> {
    const { contentType, body } = await this.metrics.exposition();
    response.header('Content-Type', contentType);
    return body;
  }
}
