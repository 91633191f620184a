/**
 * The oldest Node the service runs on (package.json "engines"): Nest 12 ships as ES modules only and
 * its CommonJS dependents need require(esm), which Node 20 has without a flag from 20.19 on.
 * This module imports nothing, so it runs on any Node before anything of Nest is loaded.
 */
export const MIN_NODE_VERSION = '20.19.0';

const parse = (v: string) => {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(-.*)?$/.exec(v);
  return m ? { parts: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] !== undefined } : undefined;
};

/** Why this Node cannot run the service, or undefined when it can. */
export function nodeVersionProblem(version: string): string | undefined {
  const have = parse(version);
  const need = parse(MIN_NODE_VERSION)!;
  const hint = `Install Node ${MIN_NODE_VERSION} or newer, and point NODE_BIN in the systemd unit (or your PATH) at it.`;
  if (!have) return `P2.8 cannot tell which Node this is (${JSON.stringify(version)}). ${hint}`;
  for (let i = 0; i < 3; i++) {
    if (have.parts[i] !== need.parts[i]) {
      return have.parts[i] > need.parts[i] ? undefined : tooOld(version, hint);
    }
  }
  // a pre-release of the minimum is older than the release itself
  return have.pre ? tooOld(version, hint) : undefined;
}

const tooOld = (version: string, hint: string) =>
  `P2.8 needs Node ${MIN_NODE_VERSION} or newer (package.json "engines"); this is Node ${version}. ${hint}`;
