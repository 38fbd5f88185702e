// Parses AsyncAPI documents with AsyncAPI's own parser and reports, per
// file, its errors and how many warnings it has: one JSON line each. Exits
// 1 when a document does not parse or has an error.
//
//   node parse.mjs doc.json...
//
// The documents' schema URLs ($ref to http or https) name schemas the
// tests do not serve (https://schemas.example.com/...), and the tests read
// no network: they are answered with an open schema. Every other check is
// the parser's default ruleset.
import { readFile } from 'node:fs/promises';
import { Parser } from '@asyncapi/parser';

const standIn = (uri) => JSON.stringify({ description: `stand-in for ${uri}, which the tests do not fetch` });
const parser = new Parser({
  __unstable: {
    resolver: {
      resolvers: [
        { schema: 'http', order: 1, read: (uri) => standIn(uri.toString()) },
        { schema: 'https', order: 1, read: (uri) => standIn(uri.toString()) },
      ],
    },
  },
});

let failed = false;
for (const file of process.argv.slice(2)) {
  const start = Date.now();
  const { document, diagnostics } = await parser.parse(await readFile(file, 'utf8'));
  const errors = diagnostics
    .filter((d) => d.severity === 0)
    .map((d) => `${d.code} at ${d.path.join('/')}: ${d.message}`);
  if (!document && errors.length === 0) {
    errors.push('the parser returned no document');
  }
  failed ||= errors.length > 0;
  const warnings = diagnostics.filter((d) => d.severity === 1).map((d) => d.code);
  console.log(JSON.stringify({ file, errors, warnings, ms: Date.now() - start }));
}
process.exitCode = failed ? 1 : 0;
