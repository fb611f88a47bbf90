// makeSelfSignedCert makes a fresh self-signed certificate for localhost and 127.0.0.1 with
// openssl, once per process, so that no key material lives in the repository.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A PEM private key and its PEM certificate; the certificate is its own CA. */
export interface SelfSignedCert {
  key: string;
  cert: string;
}

let pending: Promise<SelfSignedCert> | undefined;

async function generate(): Promise<SelfSignedCert> {
  const dir = await mkdtemp(path.join(tmpdir(), 'duplex-tls-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    const openssl = process.platform === 'linux' ? '/usr/bin/openssl' : 'openssl';
    await run(
      openssl,
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-days',
        '1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { timeout: 30_000 },
    );
    const [key, cert] = await Promise.all([readFile(keyFile, 'utf8'), readFile(certFile, 'utf8')]);
    return { key, cert };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** makeSelfSignedCert returns this process's certificate, generating it on the first call. */
export function makeSelfSignedCert(): Promise<SelfSignedCert> {
  if (!pending) {
    pending = generate();
    // A failed generation is not cached: the next caller tries again.
    pending.catch(() => {
      pending = undefined;
    });
  }
  return pending;
}
