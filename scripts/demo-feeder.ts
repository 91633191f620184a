/**
 * Demo feeder: plays the upstream services for about 8 symbols. Writes a portfolio state,
 * positions (both key patterns), market state and cluster state into Redis, serves the heat gate's
 * Prometheus text, and drifts everything so budgets move and at least one symbol goes over budget.
 *
 *   node --import @swc-node/register/esm-register scripts/demo-feeder.ts  (REDIS_URL, HEAT_PORT)
 */
import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import { Keys } from '../src/platform/redis/keys.js';

interface Sym {
  symbol: string;
  price: number;
  qty: number;
  cluster: string;
  legacy?: boolean;
}

const SYMBOLS: Sym[] = [
  { symbol: 'BTCUSDT', price: 97000, qty: 0.012, cluster: 'majors' },
  { symbol: 'ETHUSDT', price: 3400, qty: 0.35, cluster: 'majors' },
  { symbol: 'SOLUSDT', price: 190, qty: 5, cluster: 'alt-l1' },
  { symbol: 'AVAXUSDT', price: 38, qty: 28, cluster: 'alt-l1' },
  { symbol: 'LINKUSDT', price: 22, qty: 40, cluster: 'defi' },
  { symbol: 'UNIUSDT', price: 11, qty: 60, cluster: 'defi', legacy: true },
  { symbol: 'DOGEUSDT', price: 0.38, qty: 3000, cluster: 'memes', legacy: true },
  // deliberately large: it crosses its budget as stress rises
  { symbol: 'PEPEUSDT', price: 0.000021, qty: 80_000_000, cluster: 'memes' },
];

export interface Feeder {
  heatUrl: string;
  stop(): Promise<void>;
}

export async function startFeeder(redisUrl: string, heatPort = 0, periodMs = 2000): Promise<Feeder> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  let t = 0;
  let heat = 0.3;

  const server: Server = createServer((req, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(
      `# HELP p26_heat_value Portfolio heat\n# TYPE p26_heat_value gauge\np26_heat_value ${heat.toFixed(4)}\n`,
    );
  });
  await new Promise<void>((r) => server.listen(heatPort, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : heatPort;

  const clusters = new Map<string, string[]>();
  for (const s of SYMBOLS) clusters.set(s.cluster, [...(clusters.get(s.cluster) ?? []), s.symbol]);

  const feed = async () => {
    t += 1;
    const now = Math.floor(Date.now() / 1000);
    heat = 0.35 + 0.3 * Math.sin(t / 15);
    const p = redis.pipeline();
    p.hset(Keys.portfolioState, {
      equity_usd: (100_000 + 4_000 * Math.sin(t / 20)).toFixed(2),
      drawdown: (0.02 + 0.01 * Math.sin(t / 10)).toFixed(4),
      timestamp: now,
    });
    for (const [id, members] of clusters) {
      p.hset(Keys.clusters, id, JSON.stringify(members));
      p.hset(Keys.clusterState(id), {
        stress: (0.3 + 0.25 * Math.sin(t / 12 + id.length)).toFixed(4),
        timestamp: now,
      });
    }
    p.hset(Keys.portfolioClusterState, {
      cluster_stress: (0.25 + 0.1 * Math.sin(t / 9)).toFixed(4),
      timestamp: now,
    });
    SYMBOLS.forEach((s, i) => {
      const price = s.price * (1 + 0.03 * Math.sin(t / 8 + i));
      const key = s.legacy ? Keys.legacyPosition(s.symbol) : Keys.position(s.symbol);
      const qty = s.qty * (1 + 0.5 * Math.sin(t / 25 + i));
      p.hset(key, {
        symbol: s.symbol,
        position_amt: qty.toFixed(6),
        side: 'LONG',
        mark_price: price.toPrecision(8),
        timestamp: now,
      });
      const sigma = 0.015 + 0.015 * Math.abs(Math.sin(t / 14 + i));
      if (i % 2 === 0) p.hset(Keys.marketState(s.symbol), { sigma: sigma.toFixed(5), ts_timestamp: now });
      else
        p.hset(Keys.legacyMarketState(s.symbol), {
          vol_regime: sigma > 0.025 ? 'HIGH_VOL' : 'NORMAL',
          sigma: sigma.toFixed(5),
        });
    });
    await p.exec();
  };
  await feed();
  const timer = setInterval(() => void feed().catch(() => undefined), periodMs);

  return {
    heatUrl: `http://127.0.0.1:${port}/metrics`,
    stop: async () => {
      clearInterval(timer);
      await new Promise<void>((r) => server.close(() => r()));
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const feeder = await startFeeder(
    process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    Number(process.env.HEAT_PORT ?? 8056),
  );
  console.log(`feeder running; heat at ${feeder.heatUrl}`);
  const stop = () => void feeder.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
