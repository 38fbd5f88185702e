'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { readAnnouncement, parseCloudEventsJson, EVENT_TYPE } = require('../src/announcement');

test('binary mode: the attributes come from the ce- headers', () => {
  const got = readAnnouncement({
    eventPayload: { digest: 'x' },
    metadata: { 'content-type': 'application/json', 'ce-type': EVENT_TYPE, 'ce-subject': 'east', 'ce-id': '42' },
  });
  assert.deepEqual(got, { type: EVENT_TYPE, subject: 'east', id: '42' });
});

test('binary mode: a header sent twice counts once, the first', () => {
  const got = readAnnouncement({ metadata: { 'ce-type': [EVENT_TYPE, 'other'], 'ce-subject': ['east', 'west'] } });
  assert.deepEqual(got, { type: EVENT_TYPE, subject: 'east', id: '' });
});

test('structured mode: the attributes come from the body, parsed or not', () => {
  const event = { specversion: '1.0', type: EVENT_TYPE, subject: 'west', id: '7', source: '/x', data: {} };
  assert.deepEqual(readAnnouncement({ eventPayload: event, metadata: {} }), { type: EVENT_TYPE, subject: 'west', id: '7' });
  assert.deepEqual(readAnnouncement({ eventPayload: JSON.stringify(event) }), { type: EVENT_TYPE, subject: 'west', id: '7' });
  assert.deepEqual(readAnnouncement({ eventPayload: Buffer.from(JSON.stringify(event)) }), { type: EVENT_TYPE, subject: 'west', id: '7' });
});

test('structured mode without a subject has the empty subject', () => {
  assert.deepEqual(readAnnouncement({ eventPayload: { specversion: '1.0', type: EVENT_TYPE } }), { type: EVENT_TYPE, subject: '', id: '' });
});

test('what is not a CloudEvent gives a problem, never an exception', () => {
  const cases = [
    undefined,
    null,
    {},
    { eventPayload: null },
    { eventPayload: 'not json {' },
    { eventPayload: Buffer.from([0xff, 0xfe]) },
    { eventPayload: 42 },
    { eventPayload: [EVENT_TYPE] },
    { eventPayload: { type: EVENT_TYPE } }, // no specversion
    { eventPayload: { specversion: '1.0', type: 7 } },
    { eventPayload: {}, metadata: null },
    { eventPayload: {}, metadata: { 'ce-type': 5 } },
  ];
  for (const event of cases) {
    const got = readAnnouncement(/** @type {any} */ (event));
    assert.ok('problem' in got, `${JSON.stringify(event)} gave ${JSON.stringify(got)}`);
    assert.match(got.problem, /ce-type|JSON|CloudEvent/);
  }
});

test('the structured-mode body parser parses JSON and keeps anything else as text', async () => {
  const json = await parseCloudEventsJson({ body: Buffer.from('{"type":"t"}') }, { parameters: {} }, 'topic');
  assert.deepEqual(json.bodyParsed, { type: 't' });
  assert.equal(json.encoding, 'utf-8');
  const text = await parseCloudEventsJson({ body: Buffer.from('nope') }, { parameters: {} }, 'topic');
  assert.equal(text.bodyParsed, 'nope');
  await assert.rejects(parseCloudEventsJson({ body: 'x' }, { parameters: {} }, 'topic'), /raw bytes/);
  await assert.rejects(parseCloudEventsJson({ body: Buffer.from('{}') }, { parameters: { charset: 'klingon' } }, 'topic'), /charset klingon/);
});
