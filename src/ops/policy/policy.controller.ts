import { Body, Controller, Get, HttpCode, Post, Put, UseInterceptors } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentActor, OperatorWrite, RequireRole } from '../../platform/auth/roles.js';
import type { Actor } from '../../platform/auth/token-registry.js';
import { JsonObjectBodyInterceptor } from '../../platform/http/json-object-body.interceptor.js';
import { PolicyStore, type PolicyChangeResult } from './policy-store.js';
import { ChangePolicyDto, ChangePolicyResponse, PolicyViewResponse, RevertPolicyDto } from './policy.dto.js';

const answer = ({ policy, version, operation_id }: PolicyChangeResult) => ({ policy, version, operation_id });
const BAD = { description: 'a parameter breaks a rule (named in `fields`); nothing is written' };
const STALE = { description: 'expected_version is stale (body carries current_version); nothing written' };

/** docs/contract.md §7: the risk policy as shared, audited state. */
@ApiTags('ops')
@Controller('ops/policy')
export class PolicyController {
  constructor(private readonly store: PolicyStore) {}

  @Get()
  @RequireRole('viewer')
  @ApiOperation({
    summary: 'The risk policy in force',
    description: "Role: viewer. This replica's view (it follows Redis within a second).",
  })
  @ApiOkResponse({ type: PolicyViewResponse })
  view() {
    const v = this.store.current();
    return {
      policy: v.policy,
      version: v.version,
      changed_at: v.changed_at ?? null,
      changed_by: v.changed_by ?? null,
      ...(v.operation_id ? { operation_id: v.operation_id } : {}),
    };
  }

  @Put()
  @OperatorWrite()
  @UseInterceptors(JsonObjectBodyInterceptor)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Change risk policy parameters',
    description:
      'Role: operator. Written atomically with its ledger entry (set-policy); the next tick computes with it.',
  })
  @ApiBody({ type: ChangePolicyDto })
  @ApiOkResponse({ type: ChangePolicyResponse })
  @ApiBadRequestResponse(BAD)
  @ApiConflictResponse(STALE)
  async change(@Body() body: ChangePolicyDto, @CurrentActor() actor: Actor) {
    return answer(
      await this.store.change({
        intent: { op: 'set', change: body.policy },
        actor: actor.name,
        reason: body.reason,
        expectedVersion: body.expected_version,
      }),
    );
  }

  @Post('revert')
  @OperatorWrite()
  @UseInterceptors(JsonObjectBodyInterceptor)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Back to the parameters of the previous version (or to_version), as a new version',
    description: 'Role: operator. One ledger entry (revert-policy).',
  })
  @ApiBody({ type: RevertPolicyDto })
  @ApiOkResponse({ type: ChangePolicyResponse })
  @ApiBadRequestResponse(BAD)
  @ApiConflictResponse(STALE)
  async revert(@Body() body: RevertPolicyDto, @CurrentActor() actor: Actor) {
    return answer(
      await this.store.change({
        intent: { op: 'revert', ...(body.to_version !== undefined ? { toVersion: body.to_version } : {}) },
        actor: actor.name,
        reason: body.reason,
        expectedVersion: body.expected_version,
      }),
    );
  }
}
