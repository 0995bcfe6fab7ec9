import type OpenAI from 'openai';
import type { Response, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { api, eventually } from './index.js';
import type { Suite } from '../../../scripts/lib/suite.mjs';

/** Waits until the catalog lists `names` (aggregate names) to the master key: servers are fetched after start. */
export async function waitForTools(suite: Suite, names: string[], timeoutMs = 30_000): Promise<void> {
  await eventually(async () => {
    const { tools } = await api<{ tools: { name: string }[] }>(suite.edgeUrls[0]!, suite.masterKey, '/mcp-rest/tools/list');
    const listed = new Set(tools.map((t) => t.name));
    return names.every((name) => listed.has(name));
  }, timeoutMs);
}

/** The items of `type` in a response's output. */
export const itemsOf = (response: Response, type: string) => response.output.filter((item) => item.type === type) as any[];

/** The text of the message items (the client adds `output_text` to created responses, not to streamed ones). */
export const messageText = (response: Response) =>
  itemsOf(response, 'message')
    .flatMap((m) => m.content)
    .map((c: { text?: string }) => c.text ?? '')
    .join('');

/** Streams a response with the client's own helper; returns every event and the final response it assembled. */
export async function streamResponse(client: OpenAI, params: Record<string, unknown>): Promise<{ events: ResponseStreamEvent[]; final: Response }> {
  const stream = client.responses.stream(params as never);
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return { events, final: await stream.finalResponse() };
}
