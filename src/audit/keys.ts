import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointMessage, recordMessage, type ChainRecord, type Checkpoint } from './chain.js';

/** The gateway's checkpoint signing key: Ed25519, created on first start, private half readable by its owner only. */
export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
  publicKeyPem: string;
}

const PRIVATE_FILE = 'signing-key.pem';

/** `ed25519:` + the first 16 hex chars of SHA-256 over the public key's DER: stable, short, and names the key. */
export function keyIdOf(publicKey: KeyObject): string {
  return `ed25519:${createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)}`;
}

export function loadOrCreateSigningKey(dataDir: string): SigningKey {
  const file = join(dataDir, PRIVATE_FILE);
  let privateKey: KeyObject;
  if (existsSync(file)) {
    privateKey = createPrivateKey(readFileSync(file));
  } else {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    privateKey = generateKeyPairSync('ed25519').privateKey;
    // wx: two gateways starting at once on one data dir must not overwrite each other's key.
    try {
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      privateKey = createPrivateKey(readFileSync(file));
    }
  }
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** The public half of the key in a data dir, or null when the gateway has never started there. */
export function readPublicKey(dataDir: string): { keyId: string; pem: string } | null {
  const file = join(dataDir, PRIVATE_FILE);
  if (!existsSync(file)) return null;
  const publicKey = createPublicKey(createPrivateKey(readFileSync(file)));
  return { keyId: keyIdOf(publicKey), pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function signCheckpoint(key: SigningKey, cp: Omit<Checkpoint, 'key_id' | 'signature'>): Checkpoint {
  const signature = sign(null, Buffer.from(checkpointMessage(cp)), key.privateKey).toString('base64');
  return { ...cp, key_id: key.keyId, signature };
}

export function verifyCheckpoint(cp: Checkpoint, publicKeyPem: string): boolean {
  try {
    return verify(null, Buffer.from(checkpointMessage(cp)), createPublicKey(publicKeyPem), Buffer.from(cp.signature, 'base64'));
  } catch {
    return false;
  }
}

export function signRecord(key: SigningKey, r: Omit<ChainRecord, 'key_id' | 'signature'>): ChainRecord {
  const signature = sign(null, Buffer.from(recordMessage(r)), key.privateKey).toString('base64');
  return { ...r, key_id: key.keyId, signature };
}

export function verifyRecord(r: ChainRecord, publicKeyPem: string): boolean {
  try {
    return verify(null, Buffer.from(recordMessage(r)), createPublicKey(publicKeyPem), Buffer.from(r.signature, 'base64'));
  } catch {
    return false;
  }
}

/** Public keys in a PEM file (one or several concatenated), by key id. */
export function parsePublicKeys(pemText: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const block of pemText.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? []) {
    const key = createPublicKey(block);
    keys.set(keyIdOf(key), key.export({ type: 'spki', format: 'pem' }).toString());
  }
  return keys;
}
