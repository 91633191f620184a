import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Ed25519 keys of the signed ledger (docs/contract.md §4 Modes and the audit trail), with node:crypto only. No Nest, so the
 * offline tools share it. A signer id is the first 16 hex digits of the SHA-256 of the public key
 * (SPKI DER); a signature is Ed25519 over the entry's `hash` (its 64 hex characters, as ASCII).
 */

export class KeyFileError extends Error {}

export interface TrustedKeys {
  /** signer id -> public key */
  keys: ReadonlyMap<string, KeyObject>;
  /**
   * `signed-from: OPS-…` in the trusted keys file: signing was turned on at that entry; the chain
   * before it is anchored by that entry's signature (its hash covers prev_hash) and may be unsigned.
   */
  signedFrom?: string;
}

export interface SigningKey {
  signer: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const SIGNED_FROM = /^\s*signed-from:\s*(\S+)\s*$/m;

function signerId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

export function signHash(hash: string, key: SigningKey): string {
  return sign(null, Buffer.from(hash, 'ascii'), key.privateKey).toString('base64');
}

export function signatureValid(hash: string, signature: string, publicKey: KeyObject): boolean {
  if (!/^[A-Za-z0-9+/]{86}==$/.test(signature)) return false;
  try {
    return verify(null, Buffer.from(hash, 'ascii'), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

function readKeyFile(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new KeyFileError(
      `${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/** An Ed25519 private key in PEM; anything else names the variable. */
export function loadSigningKey(variable: string, path: string): SigningKey {
  const text = readKeyFile(variable, path);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(text);
  } catch {
    throw new KeyFileError(`${variable}: ${path} holds no PEM private key`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new KeyFileError(
      `${variable}: ${path} is a ${privateKey.asymmetricKeyType ?? 'unknown'} key, not Ed25519`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  return { signer: signerId(publicKey), privateKey, publicKey };
}

/** Every PEM public key block of the file (Ed25519 only), plus an optional `signed-from:` line. */
export function parseTrustedKeys(variable: string, text: string, source = 'the file'): TrustedKeys {
  const keys = new Map<string, KeyObject>();
  for (const m of text.matchAll(PEM_BLOCK)) {
    // node would derive a public key from a private block: refuse it, a private key must not travel
    if (m[1] !== 'PUBLIC KEY') {
      throw new KeyFileError(`${variable}: ${source} holds a ${m[1]} block; list public keys only`);
    }
    let key: KeyObject;
    try {
      key = createPublicKey(m[0]);
    } catch {
      throw new KeyFileError(`${variable}: a PEM block of ${source} is not a public key`);
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new KeyFileError(
        `${variable}: ${source} holds a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`,
      );
    }
    keys.set(signerId(key), key);
  }
  if (keys.size === 0) throw new KeyFileError(`${variable}: ${source} holds no PEM public key`);
  const from = SIGNED_FROM.exec(text.replace(PEM_BLOCK, ''))?.[1];
  return { keys, ...(from ? { signedFrom: from } : {}) };
}

export function loadTrustedKeys(variable: string, path: string): TrustedKeys {
  return parseTrustedKeys(variable, readKeyFile(variable, path), path);
}

/** A new key pair as PEM text (`npm run ledger:keygen`). */
export function generateKeyPair(): { privateKeyPem: string; publicKeyPem: string; signer: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    signer: signerId(publicKey),
  };
}
