import type { ChildProcess } from 'node:child_process';
import type { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

/**
 * The most a stdio server may write on stdout without a newline: a JSON-RPC message is one line, so more than this
 * is a flood (or a server writing something else on stdout). The SDK's read buffer would grow to its own limit,
 * copying itself on every chunk, clear, and start again for as long as the flood lasts, holding the connector's
 * event loop (every other server's calls with it). So the process is killed instead, as one that died: its calls
 * fail, and it is started again with backoff.
 */
export const MAX_STDIO_LINE_BYTES = 8 * 1024 * 1024;

/**
 * Watches a stdio transport's stdout once it has started; `onFlood` is told (and the process killed) when a line
 * grows past `limitBytes`.
 */
export function guardStdout(transport: StdioClientTransport, onFlood: (bytes: number) => void, limitBytes = MAX_STDIO_LINE_BYTES): void {
  const start = transport.start.bind(transport);
  transport.start = async () => {
    await start();
    const child = (transport as unknown as { _process?: ChildProcess })._process;
    const stdout = child?.stdout;
    if (!child || !stdout) return;
    let pending = 0;
    let killed = false;
    // ahead of the SDK's own listener, which copies the chunk into its buffer
    stdout.prependListener('data', (chunk: Buffer) => {
      if (killed) return;
      const newline = chunk.lastIndexOf(0x0a);
      pending = newline === -1 ? pending + chunk.length : chunk.length - newline - 1;
      if (pending <= limitBytes) return;
      killed = true;
      onFlood(pending);
      child.kill('SIGKILL');
      stdout.pause(); // read nothing more of it
    });
  };
}
