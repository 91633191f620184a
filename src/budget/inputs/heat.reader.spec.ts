import { describe, expect, it } from 'vitest';
import { HeatReader } from './heat.reader.js';

const M = 'p26_heat_value';

describe('HeatReader.fromText', () => {
  it('reads the gauge among other metrics', () => {
    const text = `# TYPE foo counter\nfoo 9\n# HELP ${M} heat\n# TYPE ${M} gauge\n${M} 0.42\n`;
    expect(HeatReader.fromText(text, M)).toMatchObject({ value: 0.42, status: 'fresh' });
  });

  it('takes heat above 1 as it is; a negative heat is garbage (0)', () => {
    expect(HeatReader.fromText(`${M} 1.7\n`, M)).toMatchObject({ value: 1.7, status: 'fresh' });
    expect(HeatReader.fromText(`${M} -0.2\n`, M)).toMatchObject({ value: 0, status: 'garbage' });
  });

  it('prefers the unlabelled sample, else takes the highest labelled one', () => {
    expect(HeatReader.fromText(`${M}{a="x"} 0.9\n${M} 0.1\n`, M).value).toBe(0.1);
    expect(HeatReader.fromText(`${M}{a="x"} 0.3\n${M}{a="y"} 0.6\n`, M).value).toBe(0.6);
  });

  it('does not match a metric whose name merely starts with the gauge name', () => {
    expect(HeatReader.fromText(`${M}_total 0.9\n`, M)).toMatchObject({ value: 0, status: 'missing' });
  });

  it('an absent gauge is missing, a non-finite one garbage, both heat 0', () => {
    expect(HeatReader.fromText('other 1\n', M)).toMatchObject({ value: 0, status: 'missing' });
    expect(HeatReader.fromText(`${M} NaN\n`, M)).toMatchObject({ value: 0, status: 'garbage' });
    expect(HeatReader.fromText(`${M} +Inf\n`, M)).toMatchObject({ value: 0, status: 'garbage' });
  });

  it('unparsable text is garbage, not a crash', () => {
    const r = HeatReader.fromText('<html>\n<body>502 Bad Gateway</body>\n', M);
    expect(r.value).toBe(0);
    expect(r.status).not.toBe('fresh');
  });
});
