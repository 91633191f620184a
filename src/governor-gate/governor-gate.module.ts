import { Module } from '@nestjs/common';

/** Gate 0 (CONTRACT.md §3). */
@Module({})
export class GovernorGateModule {}
