import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { toJsonLine, type LedgerEntry } from '../../core/ledger/ledger-entry.js';

/** The LEDGER_FILE mirror on disk: JSON lines, appended and fsynced one entry at a time. */
export class LedgerFile {
  private fd?: number;

  private constructor(
    readonly path: string,
    private needsNewline: boolean,
  ) {
    this.fd = openSync(path, 'a', 0o640);
  }

  /**
   * Opens (creating the directory and file) and reads every line: parsed records, and the 1-based
   * numbers of the lines that do not parse (a torn last line from a crash mid-write is the usual cause).
   */
  static open(path: string): { file: LedgerFile; records: unknown[]; unreadable: number[] } {
    mkdirSync(dirname(path), { recursive: true });
    const records: unknown[] = [];
    const unreadable: number[] = [];
    let needsNewline = false;
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      needsNewline = text.length > 0 && !text.endsWith('\n');
      text.split('\n').forEach((line, i) => {
        if (!line.trim()) return;
        try {
          records.push(JSON.parse(line));
        } catch {
          unreadable.push(i + 1);
        }
      });
    }
    return { file: new LedgerFile(path, needsNewline), records, unreadable };
  }

  /** Appends one entry and fsyncs; throws when the write fails (the file is then behind). */
  append(entry: LedgerEntry): void {
    if (this.fd === undefined) throw new Error('LEDGER_FILE is closed');
    const buf = Buffer.from(`${this.needsNewline ? '\n' : ''}${toJsonLine(entry)}\n`, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    fsyncSync(this.fd);
    this.needsNewline = false;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
