import { Module } from '@nestjs/common';

/** The P2.8 budget engine (CONTRACT.md §1–2). */
@Module({})
export class BudgetModule {}
