import { Inject, Injectable } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { KeysChanged, type KeysChangedPayload } from '#libs/contracts';

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
}
