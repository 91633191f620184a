import { Module } from '@nestjs/common';
import { LogDropMetrics } from './log-drop.metrics.js';

/** The logger itself is made before the app (main.ts); this wires what it reports into metrics. */
@Module({ providers: [LogDropMetrics] })
export class LoggingModule {}
