import { describeBusContract } from './bus.contract.js';
import { InProcessBus } from './in-process-bus.js';

describeBusContract('in-process', async () => {
  const bus = new InProcessBus();
  // One process has one bus: every "connection" is the same instance, closed once at the end.
  const shared = Object.create(bus, { close: { value: async () => undefined } }) as InProcessBus;
  return { connect: async () => shared, close: () => bus.close() };
});
