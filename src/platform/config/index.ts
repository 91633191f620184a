export { AppConfig, MODES, type GateAuth, type Mode } from './env.schema.js';
export { checkBootPaths } from './boot-paths.js';
export { ConfigError } from './config-error.js';
export { loadConfig, readEnvConfig } from './load-config.js';
export { ConfigModule } from './config.module.js';
