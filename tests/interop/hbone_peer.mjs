// An HBONE peer that no one here wrote: Node.js's own TLS and HTTP/2 (node:http2,
// node:tls), driven by tests/interop/interop_test.cc to check Warren's HBONE
// client and server against an independent implementation.
//
//   node hbone_peer.mjs client --host H --port P --authority IP:PORT --ca ROOT
//        [--cert C --key K] [--payload TEXT]
//     CONNECTs, sends the payload, half-closes, prints one JSON line:
//     {"stage":"done","status":200,"echo":"...","alpn":"h2","tls":"TLSv1.3","peerSan":"URI:spiffe://..."}
//     or {"stage":"tls"|"http","error":"<code>", ...} when refused.
//   node hbone_peer.mjs plaintext --host H --port P
//     Speaks cleartext HTTP/2 (the h2c preface) to a TLS port; prints what happened.
//   node hbone_peer.mjs server --port 0 --ca ROOT --cert C --key K
//     An HBONE server: verifies the client certificate against ROOT, answers CONNECT
//     by connecting to :authority and piping; prints {"listening":PORT} when ready,
//     then one {"request":...} line per stream with the client's URI SAN.

import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';

function parseArgs(argv) {
  const out = { _: argv[0] };
  for (let i = 1; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const args = parseArgs(process.argv.slice(2));
const tlsOptions = () => ({
  ca: fs.readFileSync(args.ca),
  ...(args.cert ? { cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) } : {}),
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ALPNProtocols: ['h2'],
});

function runClient() {
  let finished = false;
  const finish = (obj) => {
    if (finished) return;
    finished = true;
    emit(obj);
    client.close();
    client.destroy();
  };
  const client = http2.connect(`https://${args.host}:${args.port}`, {
    ...tlsOptions(),
    // Workload certificates carry a SPIFFE URI SAN and no host name; the identity
    // is reported (peerSan) and checked by the test instead.
    checkServerIdentity: () => undefined,
  });
  client.on('error', (e) => finish({ stage: 'tls', error: e.code || e.message, message: e.message }));
  client.on('close', () => finish({ stage: 'tls', error: 'closed before an answer' }));
  client.on('connect', (session, socket) => {
    const req = client.request({ ':method': 'CONNECT', ':authority': args.authority });
    const chunks = [];
    let status = 0;
    req.on('response', (headers) => {
      status = headers[':status'];
      if (status !== 200) return;
      req.end(args.payload || 'hello from node');
    });
    req.on('data', (d) => chunks.push(d));
    req.on('end', () =>
      finish({
        stage: status === 200 ? 'done' : 'http',
        status,
        echo: Buffer.concat(chunks).toString(),
        alpn: socket.alpnProtocol,
        tls: socket.getProtocol(),
        peerSan: socket.getPeerCertificate().subjectaltname,
      }),
    );
    // In TLS 1.3 the server judges the client's certificate after the client already
    // considers the handshake done, so a refusal arrives here, as a TLS alert.
    req.on('error', (e) => {
      const code = e.code || e.message;
      if (/^ERR_SSL_|^ECONNRESET$/.test(code) && !status) finish({ stage: 'tls', error: code });
      else finish({ stage: 'http', status, error: code });
    });
  });
  setTimeout(() => finish({ stage: 'timeout', error: 'no answer in 10 s' }), 10000).unref();
}

function runPlaintext() {
  const sock = net.connect(Number(args.port), args.host, () => {
    sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  });
  const got = [];
  sock.on('data', (d) => got.push(d));
  const done = (how) => {
    const bytes = Buffer.concat(got);
    // A TLS server answers cleartext with a TLS alert record (0x15) or just closes.
    emit({ stage: 'plaintext', how, bytes: bytes.length, firstByte: bytes.length ? bytes[0] : null,
           http2: bytes.includes(Buffer.from([0x00, 0x00])) && bytes.length >= 9 && bytes[3] === 0x04 });
    sock.destroy();
  };
  sock.on('end', () => done('closed'));
  sock.on('error', (e) => done(e.code || e.message));
  setTimeout(() => done('timeout'), 5000).unref();
}

function runServer() {
  const server = http2.createSecureServer({ ...tlsOptions(), requestCert: true, rejectUnauthorized: true });
  server.on('stream', (stream, headers) => {
    const san = stream.session.socket.getPeerCertificate().subjectaltname;
    emit({ request: headers[':method'], authority: headers[':authority'], peerSan: san,
           forwarded: headers['forwarded'] || null });
    if (headers[':method'] !== 'CONNECT') {
      stream.respond({ ':status': 400 });
      return stream.end();
    }
    const [host, port] = headers[':authority'].split(/:(?=\d+$)/);
    const upstream = net.connect(Number(port), host, () => {
      stream.respond({ ':status': 200 });
      upstream.pipe(stream);
      stream.pipe(upstream);
    });
    upstream.on('error', () => {
      if (!stream.headersSent) stream.respond({ ':status': 503 });
      stream.destroy();
    });
  });
  server.on('sessionError', () => {});
  server.on('tlsClientError', () => {});
  server.listen(Number(args.port || 0), '127.0.0.1', () => emit({ listening: server.address().port }));
  process.on('SIGTERM', () => process.exit(0));
}

if (args._ === 'client') runClient();
else if (args._ === 'plaintext') runPlaintext();
else if (args._ === 'server') runServer();
else {
  process.stderr.write('usage: hbone_peer.mjs client|plaintext|server ...\n');
  process.exit(2);
}
