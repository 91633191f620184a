import { describe, expect, it } from 'vitest';
import { gateKeys } from './gate.repository.js';

describe('gateKeys', () => {
  it('reads positions under the configured POSITION_KEY_PATTERNS, primary first', () => {
    expect(gateKeys('BTCUSDT', ['pos:v2:*', 'pos:legacy:*']).slice(4)).toEqual([
      'pos:v2:BTCUSDT',
      'pos:legacy:BTCUSDT',
    ]);
    expect(gateKeys('BTCUSDT', ['only:*']).slice(4)).toEqual(['only:BTCUSDT', 'only:BTCUSDT']);
    expect(gateKeys('ETHUSDT', ['quantum:state:positions:*', 'quantum:position:snapshot:*'])).toEqual([
      'quantum:{p28:ops}:mode',
      'quantum:{p28:ops}:overrides',
      'quantum:portfolio:budget:ETHUSDT',
      'quantum:portfolio:violation:ETHUSDT',
      'quantum:state:positions:ETHUSDT',
      'quantum:position:snapshot:ETHUSDT',
    ]);
  });
});
