import { z } from 'zod';
import { ErrorEnvelope } from '../errors.js';
import { ADMIN_API, AdminRequestMeta } from './index.js';

/**
 * docs/nats-api.md, generated from the contracts: `npm run docs:nats-api` writes it, and a unit spec
 * (nats-api-doc.spec.ts) fails when the file differs from what this returns.
 */
export function renderNatsApiDoc(): string {
  const out: string[] = [];
  const json = (schema: z.ZodType, io: 'input' | 'output') =>
    ['```json', JSON.stringify(z.toJSONSchema(schema, { io, unrepresentable: 'any' }), null, 2), '```'].join('\n');

  out.push(
    '# NATS admin API',
    '',
    '<!-- Generated from libs/contracts (src/admin/index.ts) by `npm run docs:nats-api`; do not edit by hand. `npm test` fails when this file drifts from the contracts. -->',
    '',
    'Switchboard\'s management operations (MCP servers, keys, teams, organizations, tools, permissions explain, audit)',
    'as request-reply subjects on NATS, for services and pipelines that already speak NATS. The edge answers them: it',
    'checks the credential exactly as the REST API does, then forwards the request to the registry or auth over the',
    'internal subjects. Request bodies are the REST API\'s bodies, replies its replies (docs/SPEC.md sections 4 and 5).',
    '',
    '- **Reachable** only when the gateway runs on NATS (`NATS_URL` set). The one-process default without `NATS_URL`',
    '  uses the in-process bus: nothing outside the process can call these subjects; use REST or gRPC there.',
    '- **Request**: JSON `{"meta": {"authorization": "Bearer <key>"}, "data": <request>}` on the subject (with',
    '  `NATS_NAMESPACE` set, the subject is prefixed by `<namespace>.`). `meta.authorization` carries the master key',
    '  or an admin key (`is_admin: true`); the edge verifies it through auth on every request and never passes it on.',
    '- **Reply**: one message, `{"ok": true, "data": <reply>}` or `{"ok": false, "error": {"code", "message",',
    '  "retryable", "details"}}` (the error envelope below). A missing or unknown key is `UNAUTHENTICATED`, a key',
    '  without the admin role `PERMISSION_DENIED`, a bad field `INVALID_ARGUMENT` with the field first in the message',
    '  (`url: expected an http(s) URL`) and in `details.issues[].path`. No responder at all is NATS\'s own "no responders".',
    '- **NATS permissions** (deploy/nats): the `admin` user may publish to `sb.v1.admin.>` only and receive replies on',
    '  `_INBOX_admin.>`, so an admin client connects with that inbox prefix (nats.js `inboxPrefix: "_INBOX_admin"`, the',
    '  `nats` CLI `--inbox-prefix _INBOX_admin`). Every other subject in libs/contracts/src/subjects.ts is internal: the',
    '  services call each other on them, and the NATS server refuses them to the admin user.',
    '',
    'Example with the `nats` CLI:',
    '```sh',
    'nats --server nats://admin:$NATS_ADMIN_PASSWORD@localhost:4222 --inbox-prefix _INBOX_admin \\',
    '  req sb.v1.admin.servers.list \'{"meta":{"authorization":"Bearer sk-1234"},"data":{}}\'',
    '```',
    '',
    '## Subjects',
    '',
    '| subject | REST twin | what it does |',
    '|---|---|---|',
    ...ADMIN_API.map(({ contract, rest, summary }) => `| [\`${contract.subject}\`](#${anchor(contract.subject)}) | \`${rest}\` | ${summary} |`),
    '',
    '## The request envelope\'s `meta`',
    '',
    json(AdminRequestMeta, 'input'),
    '',
    '## The error envelope',
    '',
    json(ErrorEnvelope, 'output'),
    '',
  );
  for (const { contract, rest, summary } of ADMIN_API) {
    out.push(`## ${contract.subject}`, '', `${summary} Contract \`${contract.name}\`; REST twin \`${rest}\`.`, '', 'Request `data`:', '', json(contract.request, 'input'), '', 'Reply `data`:', '', json(contract.reply, 'output'), '');
  }
  return out.join('\n');
}

function anchor(subject: string): string {
  return subject.toLowerCase().replace(/[^a-z0-9 -]/g, '');
}
