import 'reflect-metadata';
import { BadRequestException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { createValidationPipe } from './app.setup.js';
import { SimulateBudgetDto } from '../../budget/dto/simulate-budget.dto.js';

const pipe = createValidationPipe();
const meta = { type: 'body' as const, metatype: SimulateBudgetDto };

async function refusal(body: unknown): Promise<{ message: string[]; fields: string[] }> {
  try {
    await pipe.transform(body, meta);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestException);
    return (err as BadRequestException).getResponse() as { message: string[]; fields: string[] };
  }
  throw new Error('not refused');
}

describe('BoundedValidationPipe', () => {
  it('refuses 120,000 unknown keys without class-validator, naming the first five', async () => {
    const body: Record<string, unknown> = { equity_usd: 1 };
    for (let i = 0; i < 120_000; i++) body[`k${i}`] = 0;
    const started = performance.now();
    const r = await refusal(body);
    // the for-in over 120,000 keys is the whole cost; class-validator took seconds
    expect(performance.now() - started).toBeLessThan(500);
    expect(r.fields).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    expect(r.message[0]).toBe('k0: property k0 should not exist');
  });

  it('leaves a few unknown keys and bad values to class-validator, as before', async () => {
    await expect(pipe.transform({ equity_usd: 5, heat: 0.1 }, meta)).resolves.toBeInstanceOf(
      SimulateBudgetDto,
    );
    const r = await refusal({ equity_usd: -1, extra: 1 });
    expect(r.fields).toEqual(expect.arrayContaining(['equity_usd', 'extra']));
  });

  it('passes parameters that are not DTOs untouched', async () => {
    expect(await pipe.transform('BTCUSDT', { type: 'param', metatype: String })).toBe('BTCUSDT');
  });
});
