import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import type { FastifyReply } from 'fastify';
import { Metrics } from '../platform/observability/metrics.js';

/** `/metrics` through nestjs-prometheus, serving this app's registry merged with the process defaults. */
@ApiTags('health')
@Controller()
export class MetricsController extends PrometheusController {
  constructor(private readonly metrics: Metrics) {
    super();
  }

  @Get()
  @ApiOperation({
    summary: 'Prometheus metrics',
    description: 'Open. Contract metrics plus the process defaults.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'Prometheus text exposition format',
    content: { 'text/plain': { schema: { type: 'string', example: 'p28_enforce_mode 0\n' } } },
  })
  override async index(@Res({ passthrough: true }) response: FastifyReply): Promise<string> {
    const { contentType, body } = await this.metrics.exposition();
    response.header('Content-Type', contentType);
    return body;
  }
}
