import { Injectable } from '@nestjs/common';

export interface HealthPart {
  /** false makes `/health` answer 503 naming this part. */
  ok: boolean;
  detail: unknown;
  /**
   * Set when the gate cannot enforce as configured although the part answers: `/health` stays 200
   * but says `degraded` and lists the cause.
   */
  degraded?: string;
}

/**
 * Feature modules add what an operator should see on `/health` (leader, ledger mirror, ...)
 * without the health module depending on them.
 */
@Injectable()
export class HealthParts {
  private readonly parts = new Map<string, () => HealthPart | Promise<HealthPart>>();

  add(name: string, part: () => HealthPart | Promise<HealthPart>) {
    this.parts.set(name, part);
  }

  async collect(): Promise<Record<string, HealthPart>> {
    const out: Record<string, HealthPart> = {};
    for (const [name, fn] of this.parts) {
      try {
        out[name] = await fn();
      } catch (err) {
        out[name] = { ok: false, detail: (err as Error).message };
      }
    }
    return out;
  }
}
