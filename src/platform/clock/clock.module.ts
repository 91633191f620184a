import { Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock.js';

/** The injectable clock; tests replace it with a ManualClock (overrideProvider). */
@Module({
  providers: [{ provide: Clock, useClass: SystemClock }],
  exports: [Clock],
})
export class ClockModule {}
