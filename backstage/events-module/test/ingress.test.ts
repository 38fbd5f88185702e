// The events ingress's door: closed without configuration, open to a
// ServiceAccount token the cluster signed for the audience and an allowed
// subject, or to the shared secret; the cluster's keys are served on
// loopback as an API server serves them (discovery document and JWKS).

import test from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type KeyLike } from 'jose';
import { checker, type IngressSettings } from '../src';

const SUBJECT = 'system:serviceaccount:knative-eventing:eventmesh';
const AUDIENCE = 'backstage';

/** A stand-in for the API server's OIDC endpoints, with its signing key. */
async function cluster(t: test.TestContext) {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  let fetches = 0;
  const server = createServer((req, res) => {
    fetches++;
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    res.setHeader('Content-Type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/openid/v1/jwks` }));
    } else if (req.url === '/openid/v1/jwks') {
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise(resolve => server.close(resolve)));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sign = (claims: { aud?: string; sub?: string; iss?: string; exp?: number }, key: KeyLike = privateKey, kid = 'k1') =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(claims.iss ?? issuer)
      .setAudience(claims.aud ?? AUDIENCE)
      .setSubject(claims.sub ?? SUBJECT)
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? Math.floor(Date.now() / 1000) + 600)
      .sign(key);
  return { issuer, sign, fetches: () => fetches };
}

const closed: IngressSettings = { topic: 'knative-eventmesh', secret: undefined, insecureAllowUnauthenticated: false };

test('without configuration every POST is refused with 403, saying how to allow them', async () => {
  const check = checker(closed);
  for (const headers of [{}, { authorization: 'Bearer x' }, { 'x-eventmesh-secret': 'x' }]) {
    const refusal = await check(headers);
    assert.equal(refusal?.status, 403);
    assert.match(refusal!.error, /announcements are refused: configure events\.modules\.knativeEventMesh\.serviceAccount .* or events\.modules\.knativeEventMesh\.secret/);
  }
  assert.equal(await checker({ ...closed, insecureAllowUnauthenticated: true })({}), undefined);
});

test("a ServiceAccount token: the cluster's, for the audience, of an allowed subject, unexpired", async t => {
  const c = await cluster(t);
  const check = checker({ ...closed, serviceAccount: { issuer: c.issuer, audience: AUDIENCE, subjects: [SUBJECT] } });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  assert.equal(await check(bearer(await c.sign({}))), undefined, 'a good token was refused');
  const { privateKey: forger } = await generateKeyPair('RS256');
  const cases: [string, Promise<string> | string, number, RegExp][] = [
    ['forged: signed by another key, same kid', c.sign({}, forger), 401, /the cluster's keys did not sign it/],
    ['forged: signed by another key, unknown kid', c.sign({}, forger, 'k2'), 401, /the cluster's keys did not sign it/],
    ['wrong audience', c.sign({ aud: 'https://kubernetes.default.svc' }), 401, /its audience is not "backstage"/],
    ['expired', c.sign({ exp: Math.floor(Date.now() / 1000) - 120 }), 401, /it has expired/],
    ['another issuer', c.sign({ iss: 'https://elsewhere' }), 401, /another issuer signed it/],
    ['a subject not allowed', c.sign({ sub: 'system:serviceaccount:shop:intruder' }), 403, /subject "system:serviceaccount:shop:intruder" may not announce/],
    ['not a JWT', 'not-a-jwt', 401, /the token was refused/],
  ];
  for (const [name, token, status, want] of cases) {
    const refusal = await check(bearer(await token));
    assert.equal(refusal?.status, status, name);
    assert.match(refusal!.error, want, name);
  }
  assert.equal((await check({}))?.status, 401, 'no token');
  // Keys are kept: the unknown kid fetched once more, within the cooldown not again.
  assert.ok(c.fetches() <= 4, `${c.fetches()} fetches of the discovery document and JWKS`);
});

test('the shared secret is the second way in; either way lets a POST in', async t => {
  const c = await cluster(t);
  const check = checker({ ...closed, secret: 's3cret', serviceAccount: { issuer: c.issuer, audience: AUDIENCE, subjects: [SUBJECT] } });
  assert.equal(await check({ 'x-eventmesh-secret': 's3cret' }), undefined);
  assert.equal(await check({ 'x-eventmesh-secret': 's3cret', authorization: 'Bearer not-a-jwt' }), undefined);
  assert.deepEqual(await check({ 'x-eventmesh-secret': 'wrong' }), { status: 401, error: 'wrong x-eventmesh-secret header' });
  assert.match((await check({}))!.error, /send a ServiceAccount token \(Authorization: Bearer\) or the shared secret/);
  const secretOnly = checker({ ...closed, secret: 's3cret' });
  assert.equal((await secretOnly({ authorization: `Bearer ${await c.sign({})}` }))?.status, 401, 'a token where only the secret is configured');
});
