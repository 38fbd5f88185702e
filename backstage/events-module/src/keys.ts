import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/** Where the keys of a cluster's ServiceAccount tokens are, and how to fetch them. */
export interface KeySource {
  /** The issuer of the tokens: the API server's --service-account-issuer. */
  issuer: string;
  /** The JWKS URL; without it, jwks_uri of the issuer's discovery document. */
  jwksUrl?: string;
  /** A PEM file of the CA that signs the API server's certificate. */
  caFile?: string;
  /** A file holding a token the discovery document and JWKS are fetched with, read at each fetch. */
  tokenFile?: string;
}

/** How long fetched keys are used before they are fetched again. */
const MAX_AGE_MS = 10 * 60_000;
/** The least time between two fetches, so that unknown keys cannot make Backstage fetch in a loop. */
const COOLDOWN_MS = 30_000;
/** How long one fetch may take. */
const FETCH_TIMEOUT_MS = 10_000;
/** The largest document taken. */
const MAX_BYTES = 1 << 20;

/**
 * The keys of a cluster's ServiceAccount tokens, for jose's jwtVerify:
 * fetched from the issuer's discovery document and JWKS, kept for ten
 * minutes, and fetched again (at most every 30 s) when a token names a
 * key they do not have, as after the API server's key rotation.
 */
export class ClusterKeys {
  private keys: JWTVerifyGetKey | undefined;
  private fetchedAt = -Infinity;
  private fetching: Promise<void> | undefined;

  constructor(
    private readonly source: KeySource,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key of a token: a JWTVerifyGetKey. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.keys || this.now() - this.fetchedAt > MAX_AGE_MS) {
      await this.refresh();
    }
    try {
      return await this.keys!(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || this.now() - this.fetchedAt < COOLDOWN_MS) {
        throw err;
      }
    }
    await this.refresh();
    return this.keys!(header, token);
  };

  /** Fetches the keys, once for all callers that ask at the same time. */
  private refresh(): Promise<void> {
    this.fetching ??= this.fetchKeys().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async fetchKeys(): Promise<void> {
    // Even a failed fetch waits out the cooldown before the next.
    this.fetchedAt = this.now();
    let jwksUrl = this.source.jwksUrl;
    if (!jwksUrl) {
      const discovery = `${this.source.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      const doc = (await this.getJson(discovery)) as { jwks_uri?: unknown };
      if (typeof doc.jwks_uri !== 'string') {
        throw new Error(`the discovery document ${discovery} has no jwks_uri`);
      }
      jwksUrl = doc.jwks_uri;
    }
    const jwks = (await this.getJson(jwksUrl)) as JSONWebKeySet;
    if (!Array.isArray(jwks?.keys)) {
      throw new Error(`${jwksUrl} is not a JWKS: it has no "keys" list`);
    }
    this.keys = createLocalJWKSet(jwks);
  }

  /** GETs url's JSON with the CA and the token of the source. */
  private async getJson(url: string): Promise<unknown> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.source.tokenFile) {
      headers.Authorization = `Bearer ${(await readFile(this.source.tokenFile, 'utf8')).trim()}`;
    }
    const ca = this.source.caFile ? await readFile(this.source.caFile) : undefined;
    const body = await new Promise<string>((resolve, reject) => {
      const u = new URL(url);
      const send = u.protocol === 'https:' ? httpsRequest : u.protocol === 'http:' ? httpRequest : undefined;
      if (!send) {
        reject(new Error(`${url}: only http and https URLs are fetched`));
        return;
      }
      const req = send(u, { headers, ca, timeout: FETCH_TIMEOUT_MS }, res => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BYTES) {
            req.destroy(new Error(`${url}: larger than ${MAX_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) {
            reject(new Error(`GET ${url} answered ${res.statusCode}`));
            return;
          }
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${FETCH_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end();
    });
    try {
      return JSON.parse(body);
    } catch (err) {
      throw new Error(`GET ${url}: not JSON: ${(err as Error).message}`);
    }
  }
}
