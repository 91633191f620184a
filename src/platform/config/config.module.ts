import { Global, Module } from '@nestjs/common';
import { AppConfig } from './env.schema.js';
import { readEnvConfig } from './load-config.js';

@Global()
@Module({
  providers: [{ provide: AppConfig, useFactory: readEnvConfig }],
  exports: [AppConfig],
})
export class ConfigModule {}
