import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { checkBootPaths } from './boot-paths.js';
import { AppConfig } from './env.schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Old names accepted for compatibility with the Python service's env file (they were USD). */
const ALIASES: Record<string, string> = { MIN_BUDGET_K: 'MIN_BUDGET_USD', MAX_BUDGET_K: 'MAX_BUDGET_USD' };

const PLAIN_DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;

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
