import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Injectable } from '@nestjs/common';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { AppConfig } from '../../platform/config/index.js';
import { type Reading } from './reading.js';
import { parseNumber } from '../../core/numbers.js';

/**
 * Portfolio heat from the heat gate's Prometheus text (one fetch per tick). Anything short of a
 * finite gauge value — refused connection, timeout, non-2xx, unparsable text, no such gauge — is
 * heat 0 with a non-fresh status, so the caller counts it stale.
 */
const HTTP_AGENT = new HttpAgent({ keepAlive: true, maxSockets: 2 });
const HTTPS_AGENT = new HttpsAgent({ keepAlive: true, maxSockets: 2 });
/** A heat gate page is a few KB; anything far larger is not one. */
const MAX_BODY = 4 * 1024 * 1024;

@Injectable()
export class HeatReader {
  constructor(private readonly config: AppConfig) {}

  async read(timeoutMs = this.config.HEAT_TIMEOUT_MS): Promise<Reading<number>> {
    let text: string;
    try {
      text = await this.get(timeoutMs);
    } catch (err) {
      const e = err as Error & { status?: number };
      if (e.status !== undefined) return { value: 0, status: 'missing', source: `http ${e.status}` };
      const why =
        e.name === 'TimeoutError' || e.name === 'AbortError' ? `timeout after ${timeoutMs} ms` : e.message;
      return { value: 0, status: 'missing', source: why };
    }
    return HeatReader.fromText(text, this.config.HEAT_METRIC_NAME);
  }

  /**
   * One GET on a keep-alive agent (node:http rather than fetch: about a millisecond less per tick,
   * and this read is on the tick's critical path). The signal bounds the whole exchange, body
   * included: a server that sends headers and then stalls is cut off too.
   */
  private get(timeoutMs: number): Promise<string> {
    const url = new URL(this.config.HEAT_GATE_METRICS_URL);
    const secure = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        { agent: secure ? HTTPS_AGENT : HTTP_AGENT, signal: AbortSignal.timeout(timeoutMs) },
        (res) => {
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
            res.resume();
            reject(Object.assign(new Error(`http ${res.statusCode}`), { status: res.statusCode }));
            return;
          }
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
            if (body.length > MAX_BODY) req.destroy(new Error(`metrics page over ${MAX_BODY} bytes`));
          });
          res.on('end', () => resolve(body));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
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
    const candidates = (plain ? [plain] : family.metrics).map((m) => parseNumber(m.value, 'nonNegative'));
    const values = candidates.flatMap((p) => (p.ok ? [p.n] : []));
    if (values.length === 0)
      return { value: 0, status: 'garbage', source: `${metric} not a finite number >= 0` };
    // not clamped (docs/contract.md §1 Inputs): Σ|notional|·σ / equity exceeds 1 when the portfolio is hot,
    // and only the final stress is clamped
    return { value: Math.max(...values), status: 'fresh', source: metric };
  }
}
