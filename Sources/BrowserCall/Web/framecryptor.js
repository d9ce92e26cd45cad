// LiveKit's end-to-end frame encryption (client-sdk-js FrameCryptor, libwebrtc's
// FrameCryptorTransformer), written from the format as documented, with WebCrypto:
//
//   frame = clear || AES-128-GCM(key, iv, aad = clear, rest) || iv (12 bytes) || 0x0C || keyIndex
//
// clear: 1 byte of audio; VP8 10 bytes on key frames, 3 on delta frames (key frame: bit 0 of
// byte 0 is 0); H.264 everything up to and including the header byte of the first slice NAL
// unit plus one byte, with RBSP emulation prevention over all that follows the clear bytes.
// Empty frames pass through. Keys: PBKDF2-HMAC-SHA256(passphrase, salt "LKFrameEncryptionKey",
// 100,000 iterations, 16 bytes), or HKDF-SHA256 (salt, info = 128 zero bytes) for raw key
// material. Ratchet: material' = KDF(material, salt, 32 bytes), the key derived from it as
// before; a receiver whose key fails tries up to `ratchetWindowSize` ratchet steps and adopts a
// step only when a frame authenticates with it.
//
// Pure ES module (globalThis.crypto.subtle only): the transform worker, the self-test page and
// Node (Tests/web/framecryptor-check.mjs) run the same code. Errors name sizes and key
// indices, never key material or passphrases.
import { asBytes, concatBytes } from './sframe.js';

const subtle = globalThis.crypto.subtle;
const textEncoder = new TextEncoder();

export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
export const TRAILER_LENGTH = 2;
/** What encryption adds to a frame (before H.264 escaping). */
export const OVERHEAD = TAG_LENGTH + IV_LENGTH + TRAILER_LENGTH;
export const PBKDF2_ITERATIONS = 100_000;

/** client-sdk-js's defaults (KeyProvider options). */
export const LIVEKIT_DEFAULTS = Object.freeze({
  ratchetSalt: 'LKFrameEncryptionKey',
  ratchetWindowSize: 8,
  failureTolerance: 10,
  keyRingSize: 16,
});

/** Why a frame or key was refused. `kind`: 'noKey' (sender without a key), 'keyID' (no key in
 *  the slot the trailer names), 'authentication', 'keyInvalidated' (the slot failed more than
 *  failureTolerance times), 'syntax' (too short, IV length not 12, key index outside the ring,
 *  H.264 without a slice). */
export class FrameCryptorError extends Error {
  constructor(kind, message, details = {}) {
    super(message);
    this.name = 'FrameCryptorError';
    this.kind = kind;
    Object.assign(this, details);
  }
}

// ---------------------------------------------------------------------------------------------
// Keys

/** The bytes a key slot starts from: a passphrase (UTF-8) or raw key material. */
export function keyMaterial(secret, kind = 'passphrase') {
  if (kind !== 'passphrase' && kind !== 'raw') throw new Error(`key material kind "${kind}" (passphrase or raw)`);
  const bytes = typeof secret === 'string' ? textEncoder.encode(secret) : new Uint8Array(asBytes(secret));
  if (bytes.length === 0) throw new Error(kind === 'passphrase' ? 'the passphrase is empty' : 'the key material is empty');
  return { kind, bytes };
}

function kdfParameters(kind, salt) {
  const saltBytes = textEncoder.encode(salt);
  return kind === 'passphrase'
    ? { name: 'PBKDF2', salt: saltBytes, iterations: PBKDF2_ITERATIONS, hash: 'SHA-256' }
    : { name: 'HKDF', salt: saltBytes, info: new Uint8Array(128), hash: 'SHA-256' };
}

async function deriveBits({ kind, bytes }, salt, bits) {
  const algorithm = kind === 'passphrase' ? 'PBKDF2' : 'HKDF';
  const base = await subtle.importKey('raw', bytes, algorithm, false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits(kdfParameters(kind, salt), base, bits));
}

/** The 16 key bytes of `material` (PBKDF2 or HKDF with `salt`). */
export function deriveKeyBytes(material, salt = LIVEKIT_DEFAULTS.ratchetSalt) {
  return deriveBits(material, salt, 128);
}

/** The next material of the ratchet: 32 bytes from the same KDF, of the same kind. */
export async function ratchetMaterial(material, salt = LIVEKIT_DEFAULTS.ratchetSalt) {
  return { kind: material.kind, bytes: await deriveBits(material, salt, 256) };
}

/** An AES-GCM key for raw bytes (not extractable). */
export function importAesKey(bytes) {
  return subtle.importKey('raw', bytes, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** A key slot's state: its material and the AES-GCM key derived from it. */
export async function makeKeySet(material, salt = LIVEKIT_DEFAULTS.ratchetSalt) {
  return { material, key: await importAesKey(await deriveKeyBytes(material, salt)) };
}

// ---------------------------------------------------------------------------------------------
// Frame layout

/** VP8 key frame: bit 0 of the frame tag is 0 (RFC 6386 section 9.1). */
export const isVP8KeyFrame = (frame) => frame.length > 0 && (frame[0] & 0x01) === 0;

const isH264Slice = (nalHeader) => {
  const type = nalHeader & 0x1f;
  return type === 1 || type === 5;
};

/** Offset of the header byte of the first H.264 slice NAL unit (types 1 and 5) after an
 *  Annex B start code, or -1. */
export function h264FirstSliceHeader(frame) {
  for (let i = 0; i + 2 < frame.length; i++) {
    if (frame[i] === 0 && frame[i + 1] === 0 && frame[i + 2] === 1) {
      const header = i + 3;
      if (header < frame.length && isH264Slice(frame[header])) return header;
      i += 2;
    }
  }
  return -1;
}

/** Bytes left clear (and authenticated) at the start of `frame`. codec: 'opus' (or any audio),
 *  'vp8', 'h264'. (A frame shorter than its clear bytes stays all clear; its receiver cannot
 *  tell, but encoders never write such frames: a VP8 key frame header alone is 10 bytes.) */
export function clearByteCount(frame, codec) {
  switch (codec) {
    case 'vp8': return Math.min(isVP8KeyFrame(frame) ? 10 : 3, frame.length);
    case 'h264': {
      const header = h264FirstSliceHeader(frame);
      if (header < 0) throw new FrameCryptorError('syntax', 'an H.264 frame without a slice NAL unit (types 1, 5)');
      return Math.min(header + 2, frame.length);
    }
    default: return Math.min(1, frame.length);
  }
}

/** RBSP emulation prevention: 0x03 after two zero bytes when the next byte is 0-3. */
export function rbspEscape(bytes) {
  const out = [];
  let zeros = 0;
  for (const byte of bytes) {
    if (zeros >= 2 && byte <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(byte);
    zeros = byte === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

/** Removes emulation prevention (00 00 03 → 00 00); null when the escaping is broken: a start
 *  code (00 00 00, 00 00 01, 00 00 02) that escaping never leaves. */
export function rbspUnescape(bytes) {
  const out = [];
  let zeros = 0;
  for (const byte of bytes) {
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    if (zeros >= 2 && byte < 3) return null;
    out.push(byte);
    zeros = byte === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

const hasEscapes = (bytes) => {
  for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 3) return true;
  return false;
};

/** The senders' IV: BE32(ssrc) || BE32(rtpTimestamp) || BE32(rtpTimestamp - sendCount % 0xFFFF). */
export function makeIV(ssrc, rtpTimestamp, sendCount) {
  const iv = new Uint8Array(IV_LENGTH);
  const view = new DataView(iv.buffer);
  view.setUint32(0, ssrc >>> 0);
  view.setUint32(4, rtpTimestamp >>> 0);
  view.setUint32(8, (rtpTimestamp - (sendCount % 0xffff)) >>> 0);
  return iv;
}

/** Encrypts `frame` (non-empty) under `key`: clear || ciphertext+tag || iv || 12 || keyIndex,
 *  escaped after the clear bytes for H.264. */
export async function encryptFrame(frame, { key, keyIndex, iv, codec }) {
  const clearCount = clearByteCount(frame, codec);
  const clear = frame.subarray(0, clearCount);
  const sealed = new Uint8Array(await subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: clear, tagLength: 8 * TAG_LENGTH }, key, frame.subarray(clearCount)));
  const body = concatBytes(sealed, iv, Uint8Array.of(IV_LENGTH, keyIndex));
  return concatBytes(clear, codec === 'h264' ? rbspEscape(body) : body);
}

/** The parts of an encrypted frame: clear bytes, sealed bytes (ciphertext and tag), IV, key
 *  index. Throws 'syntax' for frames too short or with an IV length other than 12. */
export function parseFrame(frame, codec) {
  const clearCount = clearByteCount(frame, codec);
  let body = frame.subarray(clearCount);
  if (codec === 'h264' && hasEscapes(body)) {
    body = rbspUnescape(body);
    if (!body) throw new FrameCryptorError('syntax', 'broken emulation prevention after the clear bytes (a start code)');
  }
  if (body.length < OVERHEAD) {
    throw new FrameCryptorError('syntax', `a ${frame.length}-byte frame is too short for ${clearCount} clear bytes, tag, IV and trailer`);
  }
  const ivLength = body[body.length - 2];
  if (ivLength !== IV_LENGTH) throw new FrameCryptorError('syntax', `the trailer gives a ${ivLength}-byte IV; LiveKit frames carry 12`);
  const keyIndex = body[body.length - 1];
  const ivStart = body.length - TRAILER_LENGTH - IV_LENGTH;
  return { clear: frame.subarray(0, clearCount), sealed: body.subarray(0, ivStart), iv: body.subarray(ivStart, ivStart + IV_LENGTH), keyIndex };
}

/** The plaintext frame, or null when `key` does not authenticate it. */
export async function openFrame(parsed, key) {
  try {
    const plain = await subtle.decrypt(
      { name: 'AES-GCM', iv: parsed.iv, additionalData: parsed.clear, tagLength: 8 * TAG_LENGTH }, key, parsed.sealed);
    return concatBytes(parsed.clear, new Uint8Array(plain));
  } catch (error) {
    if (error?.name === 'OperationError') return null;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Senders and receivers

function checkKeyIndex(index, ringSize) {
  if (!Number.isInteger(index) || index < 0 || index >= ringSize) {
    throw new Error(`key index ${index} is outside the key ring (0-${ringSize - 1})`);
  }
}

/** One sender: a key ring, the current key index, send counts per SSRC (from a random start,
 *  as the SDKs). Without a key at the current index it refuses frames ('noKey'): fail closed. */
export class LiveKitSender {
  #salt;
  #ringSize;
  #slots = new Map(); // index -> key set
  #current = 0;
  #sendCounts = new Map(); // ssrc -> count
  #keyRequest = 0;
  ratchets = 0;

  constructor({ ratchetSalt = LIVEKIT_DEFAULTS.ratchetSalt, keyRingSize = LIVEKIT_DEFAULTS.keyRingSize } = {}) {
    this.#salt = ratchetSalt;
    this.#ringSize = keyRingSize;
  }

  get keyIndex() { return this.#current; }
  get hasKey() { return this.#slots.has(this.#current); }

  /** Sets the key at `keyIndex` (from a passphrase or raw material) and encrypts with it once
   *  derived; frames until then use the previous key. False when a later setKey won. */
  async setKey(secret, { keyIndex = 0, kind = 'passphrase' } = {}) {
    checkKeyIndex(keyIndex, this.#ringSize);
    const request = ++this.#keyRequest;
    const set = await makeKeySet(keyMaterial(secret, kind), this.#salt);
    if (request !== this.#keyRequest) return false;
    this.#slots.set(keyIndex, set);
    this.#current = keyIndex;
    return true;
  }

  /** Ratchets the key at `keyIndex` (default: the current one) one step. */
  async ratchet(keyIndex = this.#current) {
    const set = this.#slots.get(keyIndex);
    if (!set) throw new FrameCryptorError('noKey', `no key at key index ${keyIndex} to ratchet`);
    const next = await makeKeySet(await ratchetMaterial(set.material, this.#salt), this.#salt);
    if (this.#slots.get(keyIndex) === set) this.#slots.set(keyIndex, next);
    this.ratchets++;
  }

  #nextIV(ssrc, rtpTimestamp) {
    const count = this.#sendCounts.get(ssrc) ?? (globalThis.crypto.getRandomValues(new Uint16Array(1))[0]);
    this.#sendCounts.set(ssrc, (count + 1) >>> 0);
    return makeIV(ssrc, rtpTimestamp, count);
  }

  /** The encrypted frame; an empty frame is returned as it is. */
  async encrypt(frame, { codec, ssrc = 0, rtpTimestamp = 0 }) {
    const data = asBytes(frame);
    if (data.length === 0) return data;
    const keyIndex = this.#current;
    const set = this.#slots.get(keyIndex);
    if (!set) throw new FrameCryptorError('noKey', `no encryption key at key index ${keyIndex}: frame dropped`, { keyIndex });
    return encryptFrame(data, { key: set.key, keyIndex, iv: this.#nextIV(ssrc, rtpTimestamp), codec });
  }
}

/** One receiver: a key ring; on a frame that does not authenticate, up to `ratchetWindowSize`
 *  ratchet steps of the slot's key are tried (derived once and kept until the slot changes),
 *  and a step is adopted only when the frame authenticates with it. Failures are counted per
 *  key index; past `failureTolerance` (-1: never) that index's frames are refused untried
 *  ('keyInvalidated') until a key is set for it. */
export class LiveKitReceiver {
  #salt;
  #ringSize;
  #window;
  #tolerance;
  #slots = new Map(); // index -> {set, chain: [key set of step 1, 2, ...], failures}
  ratchetSteps = 0;

  constructor({
    ratchetSalt = LIVEKIT_DEFAULTS.ratchetSalt, ratchetWindowSize = LIVEKIT_DEFAULTS.ratchetWindowSize,
    failureTolerance = LIVEKIT_DEFAULTS.failureTolerance, keyRingSize = LIVEKIT_DEFAULTS.keyRingSize,
  } = {}) {
    this.#salt = ratchetSalt;
    this.#window = ratchetWindowSize;
    this.#tolerance = failureTolerance;
    this.#ringSize = keyRingSize;
  }

  get keyIndices() { return [...this.#slots.keys()].sort((a, b) => a - b); }

  async setKey(secret, { keyIndex = 0, kind = 'passphrase' } = {}) {
    checkKeyIndex(keyIndex, this.#ringSize);
    const set = await makeKeySet(keyMaterial(secret, kind), this.#salt);
    this.#slots.set(keyIndex, { set, chain: [], failures: 0 });
  }

  async #step(slot, index) {
    while (slot.chain.length <= index) {
      const previous = slot.chain.length === 0 ? slot.set : slot.chain[slot.chain.length - 1];
      slot.chain.push(await makeKeySet(await ratchetMaterial(previous.material, this.#salt), this.#salt));
    }
    return slot.chain[index];
  }

  /** {data, keyIndex, ratchetSteps}: the decrypted frame, the key index it named and the
   *  ratchet steps adopted for it (0 mostly). An empty frame is returned as it is. */
  async decrypt(frame, { codec }) {
    const data = asBytes(frame);
    if (data.length === 0) return { data, keyIndex: null, ratchetSteps: 0 };
    const parsed = parseFrame(data, codec);
    const { keyIndex } = parsed;
    if (keyIndex >= this.#ringSize) {
      throw new FrameCryptorError('syntax', `key index ${keyIndex} is outside the key ring (0-${this.#ringSize - 1})`, { keyIndex });
    }
    const slot = this.#slots.get(keyIndex);
    if (!slot) throw new FrameCryptorError('keyID', `no key at key index ${keyIndex}`, { keyIndex });
    if (this.#tolerance >= 0 && slot.failures > this.#tolerance) {
      throw new FrameCryptorError('keyInvalidated', `the key at key index ${keyIndex} failed more than ${this.#tolerance} times; its frames are refused until a new key is set`, { keyIndex });
    }
    const plain = await openFrame(parsed, slot.set.key);
    if (plain) {
      slot.failures = 0;
      return { data: plain, keyIndex, ratchetSteps: 0 };
    }
    for (let step = 0; step < this.#window; step++) {
      const candidate = await this.#step(slot, step);
      const opened = await openFrame(parsed, candidate.key);
      if (opened) {
        slot.set = candidate;
        slot.chain = slot.chain.slice(step + 1);
        slot.failures = 0;
        this.ratchetSteps += step + 1;
        return { data: opened, keyIndex, ratchetSteps: step + 1 };
      }
    }
    slot.failures++;
    throw new FrameCryptorError('authentication',
      `the frame did not decrypt with the key at key index ${keyIndex} nor ${this.#window} ratchet steps of it (wrong passphrase?)`, { keyIndex });
  }
}
