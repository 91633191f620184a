import { Injectable, type OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/index.js';
import { Metrics } from '../health/metrics.js';
import { ModeReader, type ModeView } from './mode-reader.js';

/** The mode seeded from P28_MODE, until the Redis-backed mode store replaces it. */
@Injectable()
export class SeededModeReader extends ModeReader implements OnModuleInit {
  private readonly view: ModeView;

  constructor(
    config: AppConfig,
    private readonly metrics: Metrics,
  ) {
    super();
    this.view = { mode: config.P28_MODE, version: 0, overrides: {} };
  }

  onModuleInit() {
    this.metrics.enforceMode.set(this.view.mode === 'enforce' ? 1 : 0);
  }

  current(): ModeView {
    return this.view;
  }
}
