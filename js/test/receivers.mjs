// The real Prometheus (remote-write receiver) and Pushgateway for the JS tests, started on
// 127.0.0.1 from the Debian binaries the test command installs (as tests/common/mod.rs does for
// the Rust tests), each stopped by its PID.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

async function start(bin, args, port, dir) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run the README test command (tests/run.sh), which installs it`);
  const child = spawn(bin, args, { stdio: 'ignore' });
  let exited = null;
  child.on('exit', (code) => (exited = code));
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) throw new Error(`${bin} exited early (${exited})`);
    try {
      if ((await fetch(`${url}/-/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`${bin} not ready on ${url} within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    async stop() {
      if (exited === null) {
        const gone = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        if (exited === null) process.kill(child.pid, 'SIGKILL');
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Prometheus with the remote-write receiver. */
export async function startPrometheus() {
  const dir = mkdtempSync(join(tmpdir(), 'em-prom-'));
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\nscrape_configs: []\n');
  const p = await start(
    '/usr/bin/prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
    ],
    port,
    dir,
  );
  p.query = async (q) => {
    const res = await fetch(`${p.url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = await res.json();
    if (body.status !== 'success') throw new Error(JSON.stringify(body));
    return body.data.result;
  };
  return p;
}

/** A Pushgateway. */
export async function startPushgateway() {
  const port = await freePort();
  // The Debian binary persists groups to /var/lib/prometheus/pushgateway.data by default: an empty
  // persistence file keeps them in memory, so every test starts from an empty Pushgateway.
  return start('/usr/bin/prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file='], port, null);
}
