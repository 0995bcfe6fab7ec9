import { describe, expect, it } from 'vitest';
import { placeholderSecrets } from './run-service.js';

describe('placeholderSecrets', () => {
  it('names the secrets still set to the deploy files’ placeholders', () => {
    expect(placeholderSecrets('change-me-master-key', 'change-me-salt-key')).toEqual([
      expect.stringMatching(/^MASTER_KEY: still the placeholder/),
      expect.stringMatching(/^SWITCHBOARD_SALT_KEY: still the placeholder/),
    ]);
    expect(placeholderSecrets('sk-real', 'a-long-random-salt')).toEqual([]);
    expect(placeholderSecrets(undefined, undefined)).toEqual([]);
  });
});
