import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsObject, IsOptional, Max, Min } from 'class-validator';
import { ReasonFields } from '../dto/ops.dto.js';

/** The six parameters (docs/contract.md §7), for the OpenAPI document. */
class PolicyParams {
  @ApiPropertyOptional({ type: Number, minimum: 0, example: 0.4 })
  alpha_heat?: number;
  @ApiPropertyOptional({ type: Number, minimum: 0, example: 0.4 })
  beta_cluster?: number;
  @ApiPropertyOptional({ type: Number, minimum: 0, example: 0.2 })
  gamma_vol?: number;
  @ApiPropertyOptional({ type: Number, exclusiveMinimum: true, minimum: 0, maximum: 1, example: 0.02 })
  base_risk_pct?: number;
  @ApiPropertyOptional({ type: Number, minimum: 0, example: 500 })
  min_budget_usd?: number;
  @ApiPropertyOptional({ type: Number, minimum: 0, example: 10000 })
  max_budget_usd?: number;
}

/** `PUT /ops/policy` (docs/contract.md §7). The parameters are checked by the policy rules, which name the field. */
export class ChangePolicyDto extends ReasonFields {
  @ApiProperty({ type: PolicyParams, description: 'any subset of the six parameters' })
  // the value as sent: class-transformer would drop keys such as `valueOf` and apply the rest
  @Transform(({ obj }) => (obj as { policy?: unknown }).policy)
  @IsObject({ message: 'policy must be an object of policy parameters' })
  policy!: Record<string, unknown>;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    description: 'compare-and-set: the version from GET /ops/policy; refused with 409 unless current',
  })
  @IsOptional()
  @IsInt({ message: 'expected_version must be an integer' })
  @Min(0, { message: 'expected_version must be >= 0' })
  @Max(Number.MAX_SAFE_INTEGER)
  expected_version?: number;
}

/** `POST /ops/policy/revert`. */
export class RevertPolicyDto extends ReasonFields {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    description: 'the version whose parameters to restore (default: the one before the current)',
  })
  @IsOptional()
  @IsInt({ message: 'to_version must be an integer' })
  @Min(0, { message: 'to_version must be >= 0' })
  @Max(Number.MAX_SAFE_INTEGER)
  to_version?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, description: 'compare-and-set, as for PUT' })
  @IsOptional()
  @IsInt({ message: 'expected_version must be an integer' })
  @Min(0, { message: 'expected_version must be >= 0' })
  @Max(Number.MAX_SAFE_INTEGER)
  expected_version?: number;
}

export class PolicyViewResponse {
  @ApiProperty({ type: PolicyParams })
  policy!: Record<string, number>;
  @ApiProperty({ type: 'integer', description: '0 when seeded from the environment, +1 per change' })
  version!: number;
  @ApiProperty({ type: Number, nullable: true, description: 'epoch seconds' })
  changed_at!: number | null;
  @ApiProperty({ type: String, nullable: true })
  changed_by!: string | null;
}

export class ChangePolicyResponse {
  @ApiProperty({ type: PolicyParams })
  policy!: Record<string, number>;
  @ApiProperty({ type: 'integer' })
  version!: number;
  @ApiProperty({ type: String, example: 'OPS-2026-11-30-004' })
  operation_id!: string;
}
