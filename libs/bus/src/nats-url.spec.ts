import { describe, expect, it } from 'vitest';
import { natsServer } from './nats-bus.js';

describe('natsServer (NATS_URL as nats.js takes it)', () => {
  it('passes a URL without credentials through, scheme removed', () => {
    expect(natsServer('nats://127.0.0.1:4222')).toEqual({ servers: '127.0.0.1:4222', credentials: {} });
    expect(natsServer('nats:4222')).toEqual({ servers: 'nats:4222', credentials: {} });
  });

  it('takes user and password out of the URL, decoded', () => {
    expect(natsServer('nats://switchboard:p%40ss:word@nats:4222')).toEqual({ servers: 'nats:4222', credentials: { user: 'switchboard', pass: 'p@ss:word' } });
  });

  it('takes a user without a password out of the URL', () => {
    expect(natsServer('nats://reader@127.0.0.1:4222')).toEqual({ servers: '127.0.0.1:4222', credentials: { user: 'reader' } });
  });
});
