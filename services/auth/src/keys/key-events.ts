import { Inject, Injectable } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { KeysChanged, TeamsChanged, type KeysChangedPayload } from '#libs/contracts';

const CHUNK = 5000;

/** Publishes KeysChanged after a commit, split so that no message comes near NATS's payload limit. */
@Injectable()
export class KeyEvents {
  constructor(@Inject(Bus) private readonly bus: Bus) {}

  keysChanged(tokenHashes: readonly string[], reason: KeysChangedPayload['reason']): void {
    for (let i = 0; i < tokenHashes.length; i += CHUNK) {
      this.bus.publish(KeysChanged, { token_hashes: tokenHashes.slice(i, i + CHUNK), reason });
    }
  }

  /** Teams or organizations changed: edges drop the OAuth token principals built from them. */
  teamsChanged(teamIds: readonly string[], organizationIds: readonly string[]): void {
    if (teamIds.length + organizationIds.length > 0) this.bus.publish(TeamsChanged, { team_ids: [...teamIds], organization_ids: [...organizationIds] });
  }
}
