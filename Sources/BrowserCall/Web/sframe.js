// SFrame (RFC 9605) and the frame format shared with the GStreamer plugin's `sframe` and
// `negate` transforms:
//
//   protected frame = clear prefix || SFrame header || AES-GCM ciphertext || 16-byte tag
//
// with the clear prefix authenticated as SFrame metadata (AAD = header || prefix).
//
// Pure ES module: no DOM and no worker globals, only globalThis.crypto.subtle, so the same code
// runs in the transform worker, in the self-test page and under Node 20.

const subtle = globalThis.crypto.subtle;
const textEncoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const MAX_U64 = (1n << 64n) - 1n;

// ---------------------------------------------------------------------------------------------
// Errors

/** A frame that could not be protected or unprotected. `kind` is one of the SFrameTransform
 *  error types ('authentication', 'keyID', 'syntax') or 'noKey' (a sender without a key). */
export class SFrameError extends Error {
  constructor(kind, message, details = {}) {
    super(message);
    this.name = 'SFrameError';
    this.kind = kind;
    Object.assign(this, details);
  }
}

// ---------------------------------------------------------------------------------------------
// Bytes

export function hexToBytes(hex) {
  const clean = String(hex).trim().toLowerCase();
  if (clean.length % 2 !== 0 || !/^[0-9a-f]*$/.test(clean)) {
    throw new Error(`not a hexadecimal byte string: "${hex}"`);
  }
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The bytes of an ArrayBuffer or view, as a Uint8Array over the same memory. */
export function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

function writeBigEndian(out, offset, value, length) {
  for (let i = length - 1; i >= 0; i--) {
    out[offset + i] = Number(value & 0xffn);
    value >>= 8n;
  }
}

function readBigEndian(bytes, offset, length) {
  let value = 0n;
  for (let i = 0; i < length; i++) value = (value << 8n) | BigInt(bytes[offset + i]);
  return value;
}

function toU64(value, name) {
  const v = BigInt(value);
  if (v < 0n || v > MAX_U64) throw new RangeError(`${name} ${v} does not fit in 64 bits`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Cipher suites (RFC 9605 section 4.5). Only the AES-GCM suites: WebCrypto has no truncated
// HMAC tags for the CTR+HMAC suites 1-3, and 6-8 are not in RFC 9605 itself.

const SUITES = new Map([
  [4, Object.freeze({ id: 4, name: 'AES_128_GCM_SHA256_128', hash: 'SHA-256', nk: 16, nn: 12, nt: 16 })],
  [5, Object.freeze({ id: 5, name: 'AES_256_GCM_SHA512_128', hash: 'SHA-512', nk: 32, nn: 12, nt: 16 })],
]);

export const SUPPORTED_SUITES = Object.freeze([...SUITES.keys()]);

/** The parameters of suite `suite` (a number or numeric string); throws for any other suite. */
export function cipherSuite(suite) {
  const info = SUITES.get(Number(suite));
  if (!info || String(Number(suite)) !== String(suite).trim()) {
    throw new Error(`suite ${suite} is not supported by this page (supported: ${SUPPORTED_SUITES.join(', ')})`);
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// Header (RFC 9605 section 4.3): config byte X K K K Y C C C, then KID bytes, then CTR bytes.

function minimalLength(value) {
  let length = 1;
  while (length < 8 && value >> BigInt(8 * length) !== 0n) length++;
  return length;
}

/** The header for key id `kid` and counter `ctr` (BigInt or number, 0 ... 2^64-1). */
export function encodeHeader(kid, ctr) {
  kid = toU64(kid, 'KID');
  ctr = toU64(ctr, 'counter');
  const kidLength = kid < 8n ? 0 : minimalLength(kid);
  const ctrLength = ctr < 8n ? 0 : minimalLength(ctr);
  const header = new Uint8Array(1 + kidLength + ctrLength);
  const kidBits = kidLength === 0 ? Number(kid) << 4 : 0x80 | ((kidLength - 1) << 4);
  const ctrBits = ctrLength === 0 ? Number(ctr) : 0x08 | (ctrLength - 1);
  header[0] = kidBits | ctrBits;
  writeBigEndian(header, 1, kid, kidLength);
  writeBigEndian(header, 1 + kidLength, ctr, ctrLength);
  return header;
}

/** Decodes the header at `bytes[offset...]`: {kid, ctr (BigInt), length (header bytes)}.
 *  Throws SFrameError('syntax') when it is truncated. Accepts non-minimal encodings. */
export function decodeHeader(bytes, offset = 0) {
  if (offset >= bytes.length) throw new SFrameError('syntax', 'no SFrame header: the frame ends before it');
  const config = bytes[offset];
  const kidLength = config & 0x80 ? ((config >> 4) & 0x07) + 1 : 0;
  const ctrLength = config & 0x08 ? (config & 0x07) + 1 : 0;
  const length = 1 + kidLength + ctrLength;
  if (bytes.length - offset < length) {
    throw new SFrameError('syntax', `SFrame header truncated: needs ${length} bytes, ${bytes.length - offset} left`);
  }
  const kid = kidLength === 0 ? BigInt((config >> 4) & 0x07) : readBigEndian(bytes, offset + 1, kidLength);
  const ctr = ctrLength === 0 ? BigInt(config & 0x07) : readBigEndian(bytes, offset + 1 + kidLength, ctrLength);
  return { kid, ctr, length };
}

// ---------------------------------------------------------------------------------------------
// Key schedule (RFC 9605 section 4.4.2)

function derivationLabel(prefix, kid, suite) {
  const label = new Uint8Array(prefix.length + 10);
  label.set(textEncoder.encode(prefix));
  writeBigEndian(label, prefix.length, kid, 8);
  writeBigEndian(label, prefix.length + 8, BigInt(suite), 2);
  return label;
}

/** sframe_key and sframe_salt as bytes (exported for the known-answer tests; transforms keep
 *  only the non-extractable CryptoKey from deriveKeyMaterial). */
export async function deriveKeyAndSalt(baseKey, kid, suite) {
  const info = cipherSuite(suite);
  kid = toU64(kid, 'KID');
  // WebCrypto's HKDF is Extract-then-Expand, so each call does both; salt = "" as in the RFC.
  const secret = await subtle.importKey('raw', asBytes(baseKey), 'HKDF', false, ['deriveBits']);
  const expand = async (prefix, length) => new Uint8Array(await subtle.deriveBits(
    { name: 'HKDF', hash: info.hash, salt: EMPTY, info: derivationLabel(prefix, kid, info.id) }, secret, length * 8));
  return {
    key: await expand('SFrame 1.0 Secret key ', info.nk),
    salt: await expand('SFrame 1.0 Secret salt ', info.nn),
  };
}

/** {kid, suite, key: CryptoKey (AES-GCM), salt} for encrypting or decrypting under one KID. */
export async function deriveKeyMaterial(baseKey, kid, suite) {
  const info = cipherSuite(suite);
  const { key, salt } = await deriveKeyAndSalt(baseKey, kid, suite);
  const cryptoKey = await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
  key.fill(0);
  return Object.freeze({ kid: BigInt(kid), suite: info.id, key: cryptoKey, salt });
}

/** salt XOR the counter as a big-endian integer of the salt's length. */
export function computeNonce(salt, ctr) {
  const nonce = new Uint8Array(salt);
  let value = toU64(ctr, 'counter');
  for (let i = nonce.length - 1; i >= 0 && value > 0n; i--) {
    nonce[i] ^= Number(value & 0xffn);
    value >>= 8n;
  }
  return nonce;
}

// ---------------------------------------------------------------------------------------------
// SFrame encryption (RFC 9605 section 4.4.3 / 4.4.4)

/** header || ciphertext || tag for `plaintext` under `material` and counter `ctr`. */
export async function sframeEncrypt(material, ctr, plaintext, metadata = EMPTY) {
  const header = encodeHeader(material.kid, ctr);
  const sealed = await subtle.encrypt(
    { name: 'AES-GCM', iv: computeNonce(material.salt, ctr), additionalData: concatBytes(header, asBytes(metadata)), tagLength: 128 },
    material.key, asBytes(plaintext));
  return concatBytes(header, new Uint8Array(sealed));
}

/** Opens `sframe` (header || ciphertext || tag). `lookupKey(kid)` returns the material (or a
 *  promise of it) or undefined. Returns {kid, ctr, plaintext}; throws SFrameError. */
export async function sframeDecrypt(sframe, metadata, lookupKey) {
  sframe = asBytes(sframe);
  const { kid, ctr, length } = decodeHeader(sframe);
  const material = await lookupKey(kid);
  if (!material) throw new SFrameError('keyID', `no key for KID ${kid}`, { kid, ctr });
  const tagLength = cipherSuite(material.suite).nt;
  if (sframe.length - length < tagLength) {
    throw new SFrameError('syntax', `SFrame payload of ${sframe.length - length} bytes is shorter than the ${tagLength}-byte tag`, { kid, ctr });
  }
  const header = sframe.subarray(0, length);
  try {
    const plaintext = await subtle.decrypt(
      { name: 'AES-GCM', iv: computeNonce(material.salt, ctr), additionalData: concatBytes(header, asBytes(metadata)), tagLength: 128 },
      material.key, sframe.subarray(length));
    return { kid, ctr, plaintext: new Uint8Array(plaintext) };
  } catch (error) {
    if (error?.name !== 'OperationError') throw error;
    throw new SFrameError('authentication', `authentication failed for KID ${kid} counter ${ctr}`, { kid, ctr });
  }
}

// ---------------------------------------------------------------------------------------------
// Clear prefix ("layout"): the codec bytes both ends leave clear so that packetizers and
// depacketizers can still parse the frame. Must equal the plugin's FrameLayout.of().

export const LAYOUTS = Object.freeze(['web', 'gstreamer']);

/** VP8 key frame: bit 0 of the frame tag is 0 (RFC 6386 section 9.1). */
export function isVP8KeyFrame(bytes) {
  return bytes.length >= 3 && (bytes[0] & 0x01) === 0;
}

/** first_partition_size from the 3-byte frame tag, or null when the frame is shorter. */
export function vp8FirstPartitionSize(bytes) {
  if (bytes.length < 3) return null;
  return (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16)) >> 5;
}

/** RFC 6386 section 7 boolean decoder with the RFC's 2-byte window (all the header needs).
 *  Reads zeros past the end, as libvpx does, but remembers that it did. */
class VP8BoolDecoder {
  #bytes;
  #position = 0;
  #value = 0;
  #range = 255;
  #bitCount = 0;
  exhausted = false;

  constructor(bytes) {
    this.#bytes = bytes;
    this.#value = (this.#nextByte() << 8) | this.#nextByte();
  }

  #nextByte() {
    if (this.#position >= this.#bytes.length) {
      this.exhausted = true;
      return 0;
    }
    return this.#bytes[this.#position++];
  }

  bool(probability) {
    const split = 1 + (((this.#range - 1) * probability) >> 8);
    const bigSplit = split << 8;
    let bit;
    if (this.#value >= bigSplit) {
      bit = 1;
      this.#range -= split;
      this.#value -= bigSplit;
    } else {
      bit = 0;
      this.#range = split;
    }
    // Renormalise to [128, 255]; every 8 shifts free the low byte of the window for a new one.
    while (this.#range < 128) {
      this.#value <<= 1;
      this.#range <<= 1;
      if (++this.#bitCount === 8) {
        this.#bitCount = 0;
        this.#value |= this.#nextByte();
      }
    }
    return bit;
  }

  literal(bits) {
    let result = 0;
    for (let i = 0; i < bits; i++) result = (result << 1) | this.bool(128);
    return result;
  }

  skipFlagged(bits) {
    if (this.literal(1)) this.literal(bits);
  }
}

/** The number of DCT partitions (1, 2, 4, 8) coded in the first partition (RFC 6386 9.2-9.5,
 *  19.2), or null when unreadable: too short, no key-frame start code, first partition cut
 *  off, or the field lies past its end. Reads only bytes that stay clear, so both ends agree. */
export function vp8PartitionCount(bytes) {
  const firstPartitionSize = vp8FirstPartitionSize(bytes);
  if (firstPartitionSize === null) return null;
  const key = isVP8KeyFrame(bytes);
  const start = key ? 10 : 3;
  if (key && (bytes.length < 10 || bytes[3] !== 0x9d || bytes[4] !== 0x01 || bytes[5] !== 0x2a)) return null;
  if (firstPartitionSize > bytes.length - start) return null;
  const d = new VP8BoolDecoder(bytes.subarray(start, start + firstPartitionSize));
  if (key) {
    d.literal(1); // color_space
    d.literal(1); // clamping_type
  }
  if (d.literal(1)) { // segmentation_enabled
    const updateMap = d.literal(1);
    if (d.literal(1)) { // update_segment_feature_data
      d.literal(1); // segment_feature_mode
      for (let i = 0; i < 4; i++) d.skipFlagged(8); // quantizer: 7 bits + sign
      for (let i = 0; i < 4; i++) d.skipFlagged(7); // loop filter: 6 bits + sign
    }
    if (updateMap) for (let i = 0; i < 3; i++) d.skipFlagged(8); // segment tree probabilities
  }
  d.literal(1); // filter_type
  d.literal(6); // loop_filter_level
  d.literal(3); // sharpness_level
  if (d.literal(1) && d.literal(1)) { // loop_filter_adj_enable && mode_ref_lf_delta_update
    for (let i = 0; i < 8; i++) d.skipFlagged(7); // ref frame and mode deltas: 6 bits + sign
  }
  const log2Count = d.literal(2);
  // A value decoded from zeros past the partition would be a guess, not the frame's.
  if (d.exhausted) return null;
  return 1 << log2Count;
}

/**
 * How many leading bytes of `bytes` stay clear.
 * kind: 'audio' (Opus: the TOC byte) or 'video' (VP8).
 * layout (video): 'web' — the browser's senders: 10 bytes on key frames, 3 on delta frames,
 *   what browser depacketizers read; 'gstreamer' — frames from the plugin: also the first
 *   partition and the partition-size table, which rtpvp8pay bool-decodes.
 */
export function clearPrefixLength(bytes, kind, layout) {
  bytes = asBytes(bytes);
  const length = bytes.length;
  if (kind === 'audio') return Math.min(1, length);
  if (kind !== 'video') throw new Error(`unknown media kind "${kind}" (audio or video)`);
  if (!LAYOUTS.includes(layout)) throw new Error(`unknown clear-prefix layout "${layout}" (web or gstreamer)`);
  const header = isVP8KeyFrame(bytes) ? 10 : 3;
  const firstPartitionSize = vp8FirstPartitionSize(bytes);
  if (layout === 'web' || firstPartitionSize === null) return Math.min(header, length);
  const partitions = vp8PartitionCount(bytes);
  // Unreadable count: keep the largest table (7 entries) clear, as far as the frame goes.
  const table = partitions === null ? 21 : 3 * (partitions - 1);
  return Math.min(header + firstPartitionSize + table, length);
}

// ---------------------------------------------------------------------------------------------
// The plugin's frame format

/** clear prefix || SFrame(body) with the prefix as metadata. */
export async function protectFrame(frame, { kind, layout, material, ctr }) {
  frame = asBytes(frame);
  const clear = clearPrefixLength(frame, kind, layout);
  const prefix = frame.subarray(0, clear);
  return concatBytes(prefix, await sframeEncrypt(material, ctr, frame.subarray(clear), prefix));
}

/** The reverse of protectFrame: {data, kid, ctr}; throws SFrameError. The prefix length comes
 *  from the frame's own clear bytes. */
export async function unprotectFrame(frame, { kind, layout, lookupKey }) {
  frame = asBytes(frame);
  const clear = clearPrefixLength(frame, kind, layout);
  if (clear >= frame.length) {
    throw new SFrameError('syntax', `a ${frame.length}-byte ${kind} frame has no SFrame payload after its ${clear} clear bytes`);
  }
  const prefix = frame.subarray(0, clear);
  const { kid, ctr, plaintext } = await sframeDecrypt(frame.subarray(clear), prefix, lookupKey);
  return { data: concatBytes(prefix, plaintext), kid, ctr };
}

/** The MDN negate example made interoperable: every byte after the clear prefix XOR 0xFF. Its
 *  own inverse (the prefix rules read only bytes it leaves alone). */
export function negateFrame(frame, kind, layout) {
  const out = new Uint8Array(asBytes(frame));
  for (let i = clearPrefixLength(out, kind, layout); i < out.length; i++) out[i] ^= 0xff;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sender and receiver state

/** Microseconds since the epoch: a reloaded page starts above every counter it used before,
 *  so it never reuses a nonce under the same key (unless it sent > 1M frames a second). */
export const clockCounterStart = () => BigInt(Date.now()) * 1000n;

/** One sender: the current key and a counter per KID (kept across key switches). Without a key
 *  it refuses frames (SFrameError 'noKey'): fail closed. */
export class SFrameSender {
  #suite;
  #counterStart;
  #material = null;
  #counters = new Map();
  #keyRequest = 0;

  constructor(suite, { counterStart = clockCounterStart } = {}) {
    this.#suite = cipherSuite(suite).id;
    this.#counterStart = counterStart;
  }

  get keyId() {
    return this.#material ? this.#material.kid : null;
  }

  /** Switches to key `kid` once it is derived; frames until then use the old key. */
  async setKey(kid, baseKey) {
    const request = ++this.#keyRequest;
    const material = await deriveKeyMaterial(baseKey, kid, this.#suite);
    if (request !== this.#keyRequest) return false; // a later setKey won
    if (!this.#counters.has(material.kid)) this.#counters.set(material.kid, this.#counterStart());
    this.#material = material;
    return true;
  }

  /** The next counter is taken before encrypting, so concurrent calls never share one. */
  async protect(frame, kind, layout) {
    const material = this.#material;
    if (!material) throw new SFrameError('noKey', 'the sender has no key: frame dropped');
    const ctr = this.#counters.get(material.kid);
    if (ctr > MAX_U64) throw new SFrameError('noKey', `counter exhausted for KID ${material.kid}`);
    this.#counters.set(material.kid, ctr + 1n);
    return { data: await protectFrame(frame, { kind, layout, material, ctr }), kid: material.kid, ctr };
  }
}

/** One receiver: any number of keys by KID, each derived on first use and cached. */
/** Frames a receiver accepts per KID around the highest counter seen, as the plugin does. */
export const REPLAY_WINDOW = 64n;

export class SFrameReceiver {
  #suite;
  #keys = new Map(); // kid (BigInt) -> {baseKey, material: Promise | null}
  #windows = new Map(); // kid -> {highest, seen}: bit i of seen = counter highest - i arrived

  constructor(suite) {
    this.#suite = cipherSuite(suite).id;
  }

  addKey(kid, baseKey) {
    this.#keys.set(toU64(kid, 'KID'), { baseKey: new Uint8Array(asBytes(baseKey)), material: null });
  }

  removeKey(kid) {
    return this.#keys.delete(toU64(kid, 'KID'));
  }

  get keyIds() {
    return [...this.#keys.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  #lookup(kid) {
    const entry = this.#keys.get(kid);
    if (!entry) return undefined;
    entry.material ??= deriveKeyMaterial(entry.baseKey, kid, this.#suite);
    return entry.material;
  }

  /** Authenticates and decrypts, then refuses a counter seen before or older than the window
   *  (SFrameError 'replay'). Checked after authentication, so forged copies cannot burn counters. */
  async unprotect(frame, kind, layout) {
    const result = await unprotectFrame(frame, { kind, layout, lookupKey: (kid) => this.#lookup(kid) });
    if (!this.#accept(result.kid, result.ctr)) {
      throw new SFrameError('replay', `KID ${result.kid} counter ${result.ctr} was seen before or is older than the last ${REPLAY_WINDOW} frames`,
        { kid: result.kid, ctr: result.ctr });
    }
    return result;
  }

  #accept(kid, ctr) {
    const window = this.#windows.get(kid);
    if (!window) {
      this.#windows.set(kid, { highest: ctr, seen: 1n });
      return true;
    }
    if (ctr > window.highest) {
      const shift = ctr - window.highest;
      window.seen = shift >= REPLAY_WINDOW ? 1n : ((window.seen << shift) | 1n) & ((1n << REPLAY_WINDOW) - 1n);
      window.highest = ctr;
      return true;
    }
    const age = window.highest - ctr;
    if (age >= REPLAY_WINDOW || (window.seen >> age) & 1n) return false;
    window.seen |= 1n << age;
    return true;
  }
}
