import { describe, expect, it } from 'vitest';
import { MemoryKeyValueStore } from '#libs/cache';
import { McpServerSpec } from '#libs/contracts';
import { definitionFromSpec } from '../servers/server-definition.js';
import { assembleCatalog } from './catalog-assembly.js';
import { CatalogRepository } from './catalog.repository.js';

const server = (name: string) => ({
  ...definitionFromSpec(name, McpServerSpec.parse({ url: `https://${name}/mcp`, transport: 'http' })),
  id: `id-${name}`,
  source: 'config' as const,
  created_at: new Date(0),
  updated_at: new Date(0),
});
const fetched = (tools: string[]) => ({
  status: 'healthy' as const,
  error: null,
  checked_at: '2025-01-01T00:00:00.000Z',
  tools: tools.map((name) => ({ name, inputSchema: { type: 'object' } })),
  protocol_version: '2025-06-18',
});

describe('CatalogRepository', () => {
  it('takes a stored catalog of the version this replica saved for that one, and parses any other', async () => {
    const repo = new CatalogRepository(new MemoryKeyValueStore());
    const mine = assembleCatalog([server('a')], new Map([['id-a', fetched(['t'])]]));
    const other = assembleCatalog([server('a')], new Map([['id-a', fetched(['t', 'u'])]]));
    expect(await repo.getCatalog(mine)).toBeNull();
    await repo.saveCatalog(mine);
    expect(await repo.getCatalog(mine)).toBe(mine);
    await repo.saveCatalog(other); // another replica's
    const read = await repo.getCatalog(mine);
    expect(read).not.toBe(other);
    expect(read).toEqual(other);
  });
});
