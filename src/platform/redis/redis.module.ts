import { Module } from '@nestjs/common';
import { LeaderService } from './leader.service.js';
import { RedisService } from './redis.service.js';

@Module({
  providers: [RedisService, LeaderService],
  exports: [RedisService, LeaderService],
})
export class RedisModule {}
