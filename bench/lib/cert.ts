/**
 * cert makes the TLS certificate of the `wss` scenario at bench time: a self-signed P-256
 * certificate for 127.0.0.1, written with openssl into a fresh temporary directory (removed
 * by the caller). Nothing is kept in the repository, and the generator, which accepts any
 * certificate, only ever connects to 127.0.0.1.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
  /** remove deletes the directory. */
  remove(): void;
}

/** makeCert returns the files, or a reason when openssl is missing or fails. */
export function makeCert(): CertFiles | string {
  const dir = mkdtempSync(path.join(tmpdir(), 'duplex-bench-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return r.error ? `openssl not usable (${r.error.message})` : `openssl failed: ${r.stderr.trim()}`;
  }
  return { cert, key, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
