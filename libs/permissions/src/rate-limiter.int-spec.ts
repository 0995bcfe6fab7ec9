import { deleteRedisKeys, RedisCounterStore, type CounterStore } from '#libs/cache';
import { TEST_REDIS_URL, uniqueId } from '#libs/testing';
import { describeRateLimiter } from './rate-limiter.suite.js';

describeRateLimiter('real Redis', async () => {
  const prefix = `${uniqueId('test_rl_')}:`;
  const opened: CounterStore[] = [];
  return {
    connect: async () => {
      const counters = new RedisCounterStore({ url: TEST_REDIS_URL, prefix });
      opened.push(counters);
      return counters;
    },
    close: async () => {
      await deleteRedisKeys(TEST_REDIS_URL, prefix);
      await Promise.all(opened.map((c) => c.close()));
    },
  };
});
