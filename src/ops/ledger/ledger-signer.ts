import { statSync } from 'node:fs';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../../platform/config/index.js';
import { sealEntry, type LedgerEntry, type UnsealedEntry } from '../../core/ledger/ledger-entry.js';
import {
  loadSigningKey,
  loadTrustedKeys,
  signHash,
  type SigningKey,
  type TrustedKeys,
} from '../../core/ledger/ledger-keys.js';

/**
 * This replica's ledger key and the keys it trusts, loaded once at boot: a missing or bad file
 * throws naming the variable, so the process stops rather than write or accept unsigned entries.
 * With no LEDGER_SIGNING_KEY_FILE the ledger is unsigned, and /health and verify say so.
 */
@Injectable()
export class LedgerSigner implements OnModuleInit {
  private readonly logger = new Logger('LedgerSigner');
  private readonly key?: SigningKey;
  /** undefined when signing is off */
  readonly trust?: TrustedKeys;

  private readonly keyFile?: string;

  constructor(config: AppConfig) {
    const keyFile = config.LEDGER_SIGNING_KEY_FILE;
    const trustFile = config.LEDGER_TRUSTED_KEYS_FILE;
    if (!keyFile) {
      if (trustFile) {
        throw new Error(
          'LEDGER_SIGNING_KEY_FILE: required with LEDGER_TRUSTED_KEYS_FILE (a replica that checks signatures must sign its own changes)',
        );
      }
      return;
    }
    this.key = loadSigningKey('LEDGER_SIGNING_KEY_FILE', keyFile);
    this.keyFile = keyFile;
    if (trustFile) {
      this.trust = loadTrustedKeys('LEDGER_TRUSTED_KEYS_FILE', trustFile);
      // rotation order: the new public key is trusted everywhere before any replica signs with it
      if (!this.trust.keys.has(this.key.signer)) {
        throw new Error(
          `LEDGER_TRUSTED_KEYS_FILE: ${trustFile} does not list this replica's own public key (signer ${this.key.signer}); add it before signing with the new key`,
        );
      }
    } else {
      this.trust = { keys: new Map([[this.key.signer, this.key.publicKey]]) };
    }
  }

  // logged here rather than in the constructor, once the app's logger is attached
  onModuleInit() {
    if (!this.key || !this.trust || !this.keyFile) return;
    this.warnIfReadableByOthers(this.keyFile);
    this.logger.log({
      msg: 'ledger signing on',
      signer: this.key.signer,
      trusted: [...this.trust.keys.keys()],
      ...(this.trust.signedFrom ? { signed_from: this.trust.signedFrom } : {}),
    });
  }

  get signed(): boolean {
    return this.key !== undefined;
  }

  get signer(): string | undefined {
    return this.key?.signer;
  }

  /** The entry with its hash, and with signing on its signer (covered by the hash) and signature. */
  seal(entry: UnsealedEntry): LedgerEntry {
    if (!this.key) return sealEntry(entry);
    const sealed = sealEntry({ ...entry, signer: this.key.signer });
    return { ...sealed, signature: signHash(sealed.hash, this.key) };
  }

  private warnIfReadableByOthers(path: string) {
    try {
      if ((statSync(path).mode & 0o077) !== 0) {
        this.logger.warn({
          msg: 'LEDGER_SIGNING_KEY_FILE is readable by group or others; chmod 600 it',
          mode: (statSync(path).mode & 0o777).toString(8),
        });
      }
    } catch {
      // it was readable a moment ago; the load already proved the key
    }
  }
}
