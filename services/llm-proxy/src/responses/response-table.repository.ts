import { DataSource } from 'typeorm';
import type { ChatMessage } from '../providers/chat-types.js';
import { ResponseStore, type PendingApproval, type StoredResponse } from './response-store.js';
import { deleteOldest } from '../retention/delete-oldest.js';
import { StoredResponseEntity } from './stored-response.entity.js';

/** Stored responses in llm-proxy's own table `llm_responses` (Postgres, or the embedded database). */
export class ResponseTableRepository extends ResponseStore {
  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async save(r: StoredResponse): Promise<void> {
    await this.dataSource.getRepository(StoredResponseEntity).save({
      id: r.id,
      owner: r.owner,
      response: r.response,
      conversation: r.conversation,
      pending: r.pending,
      created_at: r.createdAt,
    });
  }

  async find(id: string): Promise<StoredResponse | undefined> {
    const row = await this.dataSource.getRepository(StoredResponseEntity).findOneBy({ id });
    if (!row) return undefined;
    return {
      id: row.id,
      owner: row.owner,
      response: row.response,
      conversation: row.conversation as ChatMessage[],
      pending: row.pending as PendingApproval[],
      createdAt: row.created_at,
    };
  }

  deleteOlderThan(cutoff: Date, limit: number): Promise<number> {
    return deleteOldest(this.dataSource, 'llm_responses', 'id', 'created_at', cutoff, limit);
  }
}
