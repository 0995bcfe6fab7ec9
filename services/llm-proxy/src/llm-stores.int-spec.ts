import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import type { SpendLogRow } from '#libs/contracts';
import { TEST_DATABASE_KINDS, openTestDatabase, uniqueId, type TestDatabase } from '#libs/testing';
import { openLlmProxyDatabase } from './database.js';
import { ResponseTableRepository } from './responses/response-table.repository.js';
import { RetentionService } from './retention/retention.service.js';
import { SpendTableRepository } from './usage/spend-table.repository.js';

const DAY = 86_400_000;

function spendRow(apiKey: string, startedAgoMs: number, spend: number): SpendLogRow {
  const start = new Date(Date.now() - startedAgoMs).toISOString();
  return {
    request_id: uniqueId('req'),
    call_type: 'chat_completion',
    api_key: apiKey,
    key_alias: 'k',
    user: null,
    team_id: 't',
    organization_id: null,
    model_group: 'gpt',
    model: 'gpt-x',
    prompt_tokens: 3,
    completion_tokens: 2,
    total_tokens: 5,
    spend,
    startTime: start,
    endTime: start,
    status: 'success',
  };
}

// llm-proxy's own tables, through its migrations, on Postgres and on the embedded database alike.
describe.each(TEST_DATABASE_KINDS)('llm-proxy stores (database: %s)', (kind) => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let responses: ResponseTableRepository;
  let spend: SpendTableRepository;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    dataSource = await openLlmProxyDatabase(database.target);
    responses = new ResponseTableRepository(dataSource);
    spend = new SpendTableRepository(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.close();
  });

  it('keeps a response with its conversation and pending approvals', async () => {
    const id = uniqueId('resp_');
    const call = { id: 'call_1', type: 'function' as const, function: { name: 'gw-add', arguments: '{"a":1}' } };
    await responses.save({
      id,
      owner: 'master',
      response: { id, object: 'response', output: [] },
      conversation: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, tool_calls: [call] }],
      pending: [{ approval_request_id: 'mcpr_1', server_label: 'gw', name: 'gw-add', call }],
      createdAt: new Date(),
    });
    expect(await responses.find(id)).toMatchObject({ owner: 'master', conversation: [{ role: 'user' }, { tool_calls: [call] }], pending: [{ approval_request_id: 'mcpr_1', call }] });
    expect(await responses.find('resp_missing')).toBeUndefined();
  });

  it('answers spend queries newest first, filtered, and totals per key', async () => {
    const key = uniqueId('key');
    await spend.insert([spendRow(key, 2 * DAY, 0.5), spendRow(key, DAY, 0.25), spendRow(uniqueId('other'), 0, 9)]);
    const rows = await spend.query({ api_key: key, limit: 10 });
    expect(rows.map((r) => r.spend)).toEqual([0.25, 0.5]);
    expect(await spend.query({ api_key: key, start: new Date(Date.now() - 1.5 * DAY), limit: 10 })).toHaveLength(1);
    expect(await spend.totals([key, 'nobody'])).toEqual({ [key]: 0.75 });
  });

  it('deletes stored responses and usage rows past maximum_spend_logs_retention_period, and nothing without one', async () => {
    const key = uniqueId('ret');
    const old = uniqueId('resp_');
    const recent = uniqueId('resp_');
    for (const [id, agoMs] of [[old, 40 * DAY], [recent, DAY]] as const) {
      await responses.save({ id, owner: key, response: {}, conversation: [], pending: [], createdAt: new Date(Date.now() - agoMs) });
    }
    await spend.insert([spendRow(key, 40 * DAY, 1), spendRow(key, DAY, 2)]);

    await new RetentionService(responses, spend, { intervalMs: 3_600_000, firstRunDelayMs: 0 }).cleanUp();
    expect(await responses.find(old)).toBeDefined();

    await new RetentionService(responses, spend, { periodMs: 30 * DAY, intervalMs: 3_600_000, firstRunDelayMs: 0 }).cleanUp();
    expect(await responses.find(old)).toBeUndefined();
    expect(await responses.find(recent)).toBeDefined();
    expect((await spend.query({ api_key: key, limit: 10 })).map((r) => r.spend)).toEqual([2]);
  });
});
