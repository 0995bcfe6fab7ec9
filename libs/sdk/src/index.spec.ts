import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callOpenAITool, loadMcpTools, toOpenAITool, toolCallArguments } from './index.js';

const TOOLS = [
  { name: 'add', description: 'Adds', inputSchema: { type: 'object' as const, properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] } },
  { name: 'ping', inputSchema: { type: 'object' as const } },
];

describe('the MCP bridge', () => {
  let client: Client;

  // A real SDK server and client over the SDK's in-memory transport, tools listed in pages of one.
  beforeEach(async () => {
    const server = new Server({ name: 'bridge-spec', version: '1' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async (request) => {
      const start = Number(request.params?.cursor ?? 0);
      return { tools: TOOLS.slice(start, start + 1), ...(start + 1 < TOOLS.length ? { nextCursor: String(start + 1) } : {}) };
    });
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const args = request.params.arguments as { a: number; b: number };
      return { content: [{ type: 'text', text: String(args.a + args.b) }] };
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    client = new Client({ name: 'bridge-spec', version: '1' });
    await client.connect(clientSide);
  });

  afterEach(async () => {
    await client.close();
  });

  it('lists every page, as MCP tools by default and as OpenAI function tools', async () => {
    expect((await loadMcpTools(client)).map((t) => t.name)).toEqual(['add', 'ping']);
    expect(await loadMcpTools(client, { format: 'openai' })).toEqual([
      { type: 'function', function: { name: 'add', description: 'Adds', parameters: TOOLS[0]!.inputSchema, strict: false } },
      { type: 'function', function: { name: 'ping', description: '', parameters: { type: 'object', properties: {} }, strict: false } },
    ]);
    expect(toOpenAITool(TOOLS[1]!).function.parameters).toEqual({ type: 'object', properties: {} });
  });

  it('runs a model tool call with JSON text or object arguments', async () => {
    const text = await callOpenAITool(client, { id: 'call_1', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":3}' } });
    expect(text.content).toEqual([{ type: 'text', text: '5' }]);
    const object = await callOpenAITool(client, { function: { name: 'add', arguments: { a: 1, b: 1 } } });
    expect(object.content).toEqual([{ type: 'text', text: '2' }]);
  });

  it('refuses arguments that are not a JSON object', () => {
    expect(toolCallArguments({ function: { name: 'x', arguments: '' } })).toEqual({});
    expect(() => toolCallArguments({ function: { name: 'x', arguments: '[1]' } })).toThrow(/not a JSON object/);
    expect(() => toolCallArguments({ function: { name: 'x', arguments: '{' } })).toThrow(/not JSON/);
  });
});
