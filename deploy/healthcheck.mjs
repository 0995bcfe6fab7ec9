// Container health check: `node healthcheck.mjs <service>`.
// The edge is healthy when /health/liveliness answers 200; a bus service when it answers its NATS ping.
const service = process.argv[2] ?? 'edge';
const fail = (why) => {
  process.stderr.write(`${service} unhealthy: ${why}\n`);
  process.exit(1);
};
const timer = setTimeout(() => fail('timed out'), 4000);
timer.unref();

if (service === 'edge') {
  const port = process.env.PORT || 4000;
  const response = await fetch(`http://127.0.0.1:${port}/health/liveliness`).catch((error) => fail(error.message));
  process.exit(response.ok ? 0 : 1);
} else {
  const { NatsBus } = await import('#libs/bus');
  const { pingContract } = await import('#libs/contracts');
  const bus = await NatsBus.connect({ url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', namespace: process.env.NATS_NAMESPACE ?? '', name: `healthcheck-${service}` });
  try {
    await bus.call(pingContract(service), {}, { timeoutMs: 2000 });
  } catch (error) {
    fail(error.message);
  }
  process.exit(0);
}
