import { Injectable } from '@nestjs/common';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { AppConfig } from '../../config/index.js';
import { clamp01, parseNumber, type Reading } from './reading.js';

/**
 * Portfolio heat from the heat gate's Prometheus text (one fetch per tick). Anything short of a
 * finite gauge value — refused connection, timeout, non-2xx, unparsable text, no such gauge — is
 * heat 0 with a non-fresh status, so the caller counts it stale.
 */
@Injectable()
export class HeatReader {
  constructor(private readonly config: AppConfig) {}

  async read(timeoutMs = this.config.HEAT_TIMEOUT_MS): Promise<Reading<number>> {
    let text: string;
    try {
      // the signal also bounds reading the body: a server that sends headers then stalls is cut off
      const res = await fetch(this.config.HEAT_GATE_METRICS_URL, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        return { value: 0, status: 'missing', source: `http ${res.status}` };
      }
      text = await res.text();
    } catch (err) {
      const name = (err as Error).name;
      const why =
        name === 'TimeoutError' || name === 'AbortError'
          ? `timeout after ${timeoutMs} ms`
          : (err as Error).message;
      return { value: 0, status: 'missing', source: why };
    }
    return HeatReader.fromText(text, this.config.HEAT_METRIC_NAME);
  }

  /**
   * Several samples (labelled series) of the gauge: the unlabelled one if present, else the
   * highest — more heat only ever lowers budgets, so the conservative choice.
   */
  static fromText(text: string, metric: string): Reading<number> {
    let families: ReturnType<typeof parsePrometheusTextFormat>;
    try {
      families = parsePrometheusTextFormat(text);
    } catch (err) {
      return { value: 0, status: 'garbage', source: `unparsable metrics text: ${(err as Error).message}` };
    }
    const family = families.find((f) => f.name === metric);
    if (!family || family.metrics.length === 0)
      return { value: 0, status: 'missing', source: `no ${metric}` };
    const plain = family.metrics.find((m) => !m.labels || Object.keys(m.labels).length === 0);
    const candidates = (plain ? [plain] : family.metrics).map((m) => parseNumber(m.value));
    const values = candidates.flatMap((p) => (p.ok ? [p.n] : []));
    if (values.length === 0) return { value: 0, status: 'garbage', source: `${metric} not a finite number` };
    return { value: clamp01(Math.max(...values)), status: 'fresh', source: metric };
  }
}
