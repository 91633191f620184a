import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeatStub {
  /** The metrics URL to give the app as HEAT_GATE_METRICS_URL. */
  url: string;
  /** Serve `name value` as a gauge (the default metric name is p26_heat_value). */
  setHeat(value: number | string, name?: string): void;
  /** Serve this exact body (and status). */
  setBody(body: string, status?: number): void;
  /** Accept requests and never answer them (until `hang(false)`). */
  hang(on: boolean): void;
  /** Requests received so far. */
  readonly requests: number;
  close(): Promise<void>;
}

export const heatBody = (value: number | string, name = 'p26_heat_value') =>
  `# HELP ${name} Portfolio heat\n# TYPE ${name} gauge\n${name} ${value}\n# HELP other_metric x\n# TYPE other_metric counter\nother_metric 42\n`;

/** A stand-in for the P2.6 heat gate's /metrics, on a free local port. */
export async function startHeatStub(initial: number | string = 0): Promise<HeatStub> {
  let body = heatBody(initial);
  let status = 200;
  let hanging = false;
  let requests = 0;
  const stalled = new Set<ServerResponse>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests += 1;
    if (hanging) {
      stalled.add(res);
      res.on('close', () => stalled.delete(res));
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/metrics`,
    setHeat(value, name) {
      body = heatBody(value, name);
      status = 200;
    },
    setBody(b, s = 200) {
      body = b;
      status = s;
    },
    hang(on) {
      hanging = on;
    },
    get requests() {
      return requests;
    },
    close: async () => {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
