import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { checkBootPaths } from './boot-paths.js';
import { ConfigError } from './config-error.js';
import { SYMBOL_PATTERN, SYMBOL_RULE } from '../../core/symbol.js';
import { AppConfig } from './env.schema.js';

/** Old names accepted for compatibility with the Python service's env file (they were USD). */
const ALIASES: Record<string, string> = { MIN_BUDGET_K: 'MIN_BUDGET_USD', MAX_BUDGET_K: 'MAX_BUDGET_USD' };

/** No sign: a negative value has no meaning for any variable, and `-0` would pass a @Min(0). */
const PLAIN_DECIMAL = /^[0-9]+(\.[0-9]+)?$/;

/** A host name or IPv4/IPv6 address, nothing that could change the URL's meaning ('@', '/', ':'). */
const REDIS_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;
const OLD_REDIS = ['REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_DB'] as const;

/**
 * The Python service's env file names Redis by REDIS_HOST / REDIS_PORT (and maybe REDIS_PASSWORD /
 * REDIS_DB). Ignoring them would silently talk to 127.0.0.1:6379, so they become REDIS_URL when
 * that is unset, and are refused next to it (which one was meant cannot be told).
 */
function redisUrlFromOldNames(
  env: Record<string, string | undefined>,
  problems: string[],
): string | undefined {
  const set = OLD_REDIS.filter((k) => env[k] !== undefined && env[k] !== '');
  if (set.length === 0) return undefined;
  if (env.REDIS_URL !== undefined && env.REDIS_URL !== '') {
    problems.push(
      `${set.join(', ')} and REDIS_URL: set REDIS_URL only (the old names are read only without it)`,
    );
    return undefined;
  }
  const host = env.REDIS_HOST || '127.0.0.1';
  const port = env.REDIS_PORT || '6379';
  const db = env.REDIS_DB || '0';
  const before = problems.length;
  if (!REDIS_HOST.test(host))
    problems.push(`REDIS_HOST=${JSON.stringify(host)}: must be a host name or an address`);
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    problems.push(`REDIS_PORT=${JSON.stringify(port)}: must be a port number 1-65535 (plain decimal)`);
  if (!/^[0-9]{1,5}$/.test(db))
    problems.push(`REDIS_DB=${JSON.stringify(db)}: must be a database number (plain decimal)`);
  if (problems.length > before) return undefined;
  const auth = env.REDIS_PASSWORD ? `:${encodeURIComponent(env.REDIS_PASSWORD)}@` : '';
  return `redis://${auth}${host}:${Number(port)}/${Number(db)}`;
}

/** BUDGET_UNIVERSE entries as the engine will see them, refused unless each obeys the symbol rule. */
function badUniverse(list: readonly string[]): string[] {
  return list.filter((s) => !SYMBOL_PATTERN.test(s));
}

const TOKEN_ENTRY = /^[A-Za-z0-9_.@-]+:(viewer|operator|service):[0-9a-f]{64}$/;

function describe(
  errors: ValidationError[],
  raw: Record<string, string>,
  label: (name: string) => string,
): string[] {
  return errors.map((e) => {
    const rules = Object.values(e.constraints ?? {}).join('; ');
    // secrets never appear in a config message; other values are shown as the operator typed them
    const shown = e.property === 'OPS_API_TOKENS' ? '(hidden)' : JSON.stringify(raw[e.property] ?? null);
    return `${label(e.property)}=${shown}: ${rules}`;
  });
}

/** Validates an environment map; throws ConfigError naming every bad variable. Pure: no process access. */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const known = new AppConfig();
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && v !== '' && Object.hasOwn(known, k)) raw[k] = v;
  }
  const viaAlias = new Map<string, string>();
  for (const [alias, name] of Object.entries(ALIASES)) {
    const v = env[alias];
    if (raw[name] === undefined && v !== undefined && v !== '') {
      raw[name] = v;
      viaAlias.set(name, alias);
    }
  }
  const early: string[] = [];
  const fromOld = redisUrlFromOldNames(env, early);
  if (fromOld !== undefined) raw.REDIS_URL = fromOld;
  // a problem names the variable as the operator wrote it
  const label = (name: string) => {
    const alias = viaAlias.get(name);
    return alias ? `${alias} (read as ${name})` : name;
  };
  // Number() would also take hex, exponents and padding; a typo there must not become a limit
  const notDecimal = Object.keys(raw).filter(
    (k) => typeof known[k as keyof AppConfig] === 'number' && !PLAIN_DECIMAL.test(raw[k]),
  );
  const config = plainToInstance(AppConfig, raw, { exposeDefaultValues: true });
  const problems = [
    ...early,
    ...notDecimal.map(
      (k) =>
        `${label(k)}=${JSON.stringify(raw[k])}: must be a plain decimal number (digits, optionally a fraction; no hex, exponent, sign or spaces)`,
    ),
    ...describe(
      validateSync(config, { skipMissingProperties: false }).filter((e) => !notDecimal.includes(e.property)),
      raw,
      label,
    ),
  ];

  if (problems.length === 0 && config.MIN_BUDGET_USD > config.MAX_BUDGET_USD) {
    problems.push(
      `MIN_BUDGET_USD=${config.MIN_BUDGET_USD}: must not exceed MAX_BUDGET_USD=${config.MAX_BUDGET_USD}`,
    );
  }
  const badTokens = config.OPS_API_TOKENS?.filter((t) => !TOKEN_ENTRY.test(t)) ?? [];
  if (badTokens.length > 0) {
    // never echo the entry itself: only its position and the name part
    const names = badTokens.map((t) => `#${config.OPS_API_TOKENS.indexOf(t) + 1} (${t.split(':')[0]})`);
    problems.push(
      `OPS_API_TOKENS: entries ${names.join(', ')} are not name:viewer|operator|service:sha256hex`,
    );
  }
  const junk = Array.isArray(config.BUDGET_UNIVERSE) ? badUniverse(config.BUDGET_UNIVERSE) : [];
  if (junk.length > 0) {
    const shown = junk.slice(0, 5).map((s) => JSON.stringify(s.slice(0, 40)));
    problems.push(
      `BUDGET_UNIVERSE=${JSON.stringify(raw.BUDGET_UNIVERSE ?? '').slice(0, 200)}: ${shown.join(', ')}: ${SYMBOL_RULE}`,
    );
  }
  if (config.REDIS_SENTINELS?.length && config.REDIS_CLUSTER_NODES?.length) {
    problems.push('REDIS_SENTINELS and REDIS_CLUSTER_NODES: set one of them, not both');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** The one place that reads the process environment; also checks the paths it names. */
export function readEnvConfig(): AppConfig {
  return checkBootPaths(loadConfig(process.env));
}
