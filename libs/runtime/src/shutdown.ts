/**
 * Runs `stop` once when the process is asked to end: SIGINT, SIGTERM, SIGHUP, or the supervisor that started it
 * going away (its IPC channel closes, even when it was killed with SIGKILL). Exits when `stop` settles, or after
 * `forceAfterMs` whatever it is doing.
 */
export function onShutdown(stop: (reason: string) => Promise<void>, forceAfterMs: number, log: (message: string) => void): void {
  let stopping = false;
  const run = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${reason})`);
    const force = setTimeout(() => {
      log(`did not stop within ${forceAfterMs} ms: exiting anyway`);
      process.exit(1);
    }, forceAfterMs);
    force.unref();
    void stop(reason).then(
      () => process.exit(0),
      (error: Error) => {
        log(`shutdown failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => run(signal));
  if (process.channel) {
    process.once('disconnect', () => run('the supervisor went away'));
    process.channel.unref(); // the channel alone must not keep the process alive
  }
}
