import type { ChatMessage, ChatToolCall } from '../providers/chat-types.js';

/** An approval request of a stored response, waiting for an `mcp_approval_response` in a follow-up. */
export interface PendingApproval {
  approval_request_id: string;
  server_label: string;
  /** The name the entry showed (mcp_approval_request.name). */
  name: string;
  /** The model's call, as it stands in the conversation. */
  call: ChatToolCall;
}

/** A response kept for `previous_response_id` and `GET /v1/responses/{id}`. */
export interface StoredResponse {
  id: string;
  /** The creating key's token (sha256), or `master`: only that caller may read or continue it. */
  owner: string;
  /** The Response object as it was returned. */
  response: Record<string, unknown>;
  /** The conversation in chat form, ending with the model's last message and any results of the gateway's calls. */
  conversation: ChatMessage[];
  pending: PendingApproval[];
  createdAt: Date;
}

/** Where responses are kept: a table of llm-proxy's own (ResponseTableRepository) or memory (tests). */
export abstract class ResponseStore {
  abstract save(response: StoredResponse): Promise<void>;
  abstract find(id: string): Promise<StoredResponse | undefined>;
  /** Deletes at most `limit` responses created before `cutoff`; returns how many. */
  abstract deleteOlderThan(cutoff: Date, limit: number): Promise<number>;
}

export class InMemoryResponseStore extends ResponseStore {
  private readonly responses = new Map<string, StoredResponse>();

  async save(response: StoredResponse): Promise<void> {
    this.responses.set(response.id, structuredClone(response));
  }

  async find(id: string): Promise<StoredResponse | undefined> {
    const found = this.responses.get(id);
    return found && structuredClone(found);
  }

  async deleteOlderThan(cutoff: Date, limit: number): Promise<number> {
    let deleted = 0;
    for (const [id, r] of this.responses) {
      if (deleted >= limit) break;
      if (r.createdAt < cutoff) {
        this.responses.delete(id);
        deleted++;
      }
    }
    return deleted;
  }
}
