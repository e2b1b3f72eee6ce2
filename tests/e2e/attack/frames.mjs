// HTTP/2 frames and HPACK header blocks written by hand (RFC 9113, RFC 7541), so
// that an attack can send what no well-behaved client library would: a HEADERS
// that never ends, a RST_STREAM right behind its HEADERS, ten thousand SETTINGS.
// HPACK here is literals without Huffman coding only (plus the two forms the table
// abuse needs), which every decoder must accept.

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export const Type = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8,
                      CONTINUATION: 9 };
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 };
export const Setting = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4,
                         MAX_FRAME_SIZE: 5 };
export const ErrorCode = { NO_ERROR: 0, CANCEL: 8 };

// One frame: the 9-byte header (24-bit length, type, flags, 31-bit stream id) and its payload.
export function frame(type, flags, streamId, payload = Buffer.alloc(0)) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h.writeUInt8(type, 3);
  h.writeUInt8(flags, 4);
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

export function settings(entries = []) {
  const p = Buffer.alloc(6 * entries.length);
  entries.forEach(([id, value], i) => {
    p.writeUInt16BE(id, 6 * i);
    p.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(Type.SETTINGS, 0, 0, p);
}

export const settingsAck = () => frame(Type.SETTINGS, Flag.ACK, 0);
export const ping = (n) => {
  const p = Buffer.alloc(8);
  p.writeBigUInt64BE(BigInt(n));
  return frame(Type.PING, 0, 0, p);
};
export const rstStream = (id, code = ErrorCode.CANCEL) => {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(Type.RST_STREAM, 0, id, p);
};
export const windowUpdate = (id, increment) => {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment);
  return frame(Type.WINDOW_UPDATE, 0, id, p);
};
export const data = (id, payload, flags = 0) => frame(Type.DATA, flags, id, payload);

// HPACK integer with an N-bit prefix (RFC 7541 5.1); `first` carries the pattern bits.
export function hpackInt(value, prefixBits, first = 0) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

function hpackString(s) {
  const b = Buffer.from(s);
  return Buffer.concat([hpackInt(b.length, 7, 0x00), b]);  // H = 0: no Huffman
}

// Literal header field without indexing, new name (RFC 7541 6.2.2).
export const literal = (name, value) => Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
// Literal with incremental indexing, new name (6.2.1): the decoder adds it to its table.
export const literalIndexed = (name, value) =>
  Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
// Indexed header field (6.1): one byte or so that expands to a whole table entry.
export const indexed = (index) => hpackInt(index, 7, 0x80);
// The first dynamic table entry (after the 61 static ones).
export const FIRST_DYNAMIC_INDEX = 62;

export function block(fields) {
  return Buffer.concat(fields.map(([n, v]) => literal(n, v)));
}

// An HBONE request: CONNECT to authority "ip:port".
export const connectBlock = (authority) => block([[':method', 'CONNECT'], [':authority', authority]]);

// A header block as HEADERS then CONTINUATIONs of at most maxFrame bytes each.
export function headerFrames(id, blockBytes, { endStream = false, endHeaders = true, maxFrame = 16384 } = {}) {
  const out = [];
  for (let off = 0, first = true; first || off < blockBytes.length; first = false) {
    const chunk = blockBytes.subarray(off, off + maxFrame);
    off += chunk.length;
    const last = off >= blockBytes.length;
    const type = first ? Type.HEADERS : Type.CONTINUATION;
    let flags = 0;
    if (first && endStream) flags |= Flag.END_STREAM;
    if (last && endHeaders) flags |= Flag.END_HEADERS;
    out.push(frame(type, flags, id, chunk));
  }
  return Buffer.concat(out);
}
