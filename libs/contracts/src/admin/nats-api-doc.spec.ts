import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ADMIN_API } from './index.js';
import { renderNatsApiDoc } from './nats-api-doc.js';

const DOC = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../../..'), 'docs/nats-api.md');

describe('docs/nats-api.md', () => {
  it('is what libs/contracts generates (run `npm run docs:nats-api` after changing a contract)', () => {
    const committed = readFileSync(DOC, 'utf8');
    // a plain equality: a drift shows as the first differing line, with the command to fix it in the test name
    expect(committed).toBe(renderNatsApiDoc());
  });

  it('documents every public admin subject with a request and a reply schema', () => {
    const doc = renderNatsApiDoc();
    for (const { contract } of ADMIN_API) {
      expect(contract.subject).toMatch(/^sb\.v1\.admin\.[a-z-]+\.[a-z-]+$/);
      const section = doc.slice(doc.indexOf(`## ${contract.subject}\n`));
      expect(section, contract.subject).toContain('Request `data`:');
      expect(section, contract.subject).toContain('"type": "object"');
    }
  });
});
