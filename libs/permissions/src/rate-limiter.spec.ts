import { MemoryCounterStore } from '#libs/cache';
import { describeRateLimiter } from './rate-limiter.suite.js';

describeRateLimiter('memory counters', async () => {
  const counters = new MemoryCounterStore();
  return { connect: async () => counters, close: () => counters.close() };
});
