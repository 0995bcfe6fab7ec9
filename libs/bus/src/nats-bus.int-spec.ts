import { TEST_NATS_URL, testNamespace } from '#libs/testing';
import { describeBusContract } from './bus.contract.js';
import { NatsBus } from './nats-bus.js';

describeBusContract('NATS (the machine’s nats-server, default max_payload)', async () => {
  const namespace = testNamespace();
  return { connect: () => NatsBus.connect({ url: TEST_NATS_URL, namespace }), close: async () => undefined };
});
