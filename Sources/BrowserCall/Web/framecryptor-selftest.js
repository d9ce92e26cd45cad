// Self test of framecryptor.js (LiveKit's frame format): the published key-derivation and
// ratchet-chain vectors, and the frame format (clear bytes per codec, trailer, IV rule, H.264
// escaping, ratchet window, failure tolerance). The self-test page (selftest.html) and Node
// (Tests/web/framecryptor-check.mjs) run it.
import {
  FrameCryptorError, LiveKitReceiver, LiveKitSender, OVERHEAD, clearByteCount, deriveKeyBytes, encryptFrame,
  h264FirstSliceHeader, importAesKey, keyMaterial, makeIV, makeKeySet, parseFrame, rbspEscape, rbspUnescape,
  ratchetMaterial,
} from './framecryptor.js';
import { bytesToHex, concatBytes, hexToBytes } from './sframe.js';

const subtle = globalThis.crypto.subtle;

/** Runs `check` and records it under `group`; a thrown error is a failure with its message. */
function makeChecks(onResult) {
  const results = { passed: 0, failed: 0, failures: [], groups: {} };
  const record = (group, name, ok, detail = '') => {
    const counts = (results.groups[group] ??= { passed: 0, failed: 0 });
    if (ok) {
      results.passed++;
      counts.passed++;
    } else {
      results.failed++;
      counts.failed++;
      results.failures.push(`${group}: ${name}${detail ? ` (${detail})` : ''}`);
    }
    onResult?.({ group, name, ok, detail });
  };
  const check = async (group, name, body) => {
    try {
      const outcome = await body();
      record(group, name, outcome !== false, typeof outcome === 'string' ? outcome : '');
    } catch (error) {
      record(group, name, false, error?.message ?? String(error));
    }
  };
  return { results, check };
}

function equalBytes(actual, expected, what) {
  const a = bytesToHex(actual), e = bytesToHex(expected);
  if (a !== e) throw new Error(`${what}: ${a} instead of ${e}`);
}

async function expectKind(promise, kind) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof FrameCryptorError && error.kind === kind) return;
    throw new Error(`refused as ${error?.kind ?? error?.message} instead of ${kind}`);
  }
  throw new Error(`accepted; expected a ${kind} refusal`);
}

const range = (length, start = 0) => Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);

/** A VP8-looking frame: byte 0's bit 0 says key (0) or delta (1). */
const vp8Frame = (key, length = 120) => { const f = range(length, 7); f[0] = key ? 0x10 : 0x11; return f; };

/** SPS, PPS and an IDR slice with Annex B start codes, and zeros that need escaping. */
function h264Frame() {
  return concatBytes(
    Uint8Array.of(0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5),
    Uint8Array.of(0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80),
    Uint8Array.of(0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0x33), range(60, 3));
}

async function vectorChecks(check, vectors) {
  for (const vector of vectors?.key_derivation ?? []) {
    await check('livekit vectors', `${vector.kdf} ${vector.source}`, async () => {
      const kind = vector.kdf.startsWith('PBKDF2') ? 'passphrase' : 'raw';
      if (kind === 'passphrase' && vector.iterations !== 100000) throw new Error(`${vector.iterations} iterations`);
      if (kind === 'raw' && (!/^0*$/.test(vector.info) || vector.info.length !== 256)) throw new Error('info is not 128 zero bytes');
      const material = keyMaterial(kind === 'passphrase' ? vector.input_utf8 : hexToBytes(vector.input), kind);
      equalBytes(await deriveKeyBytes(material, vector.salt_utf8), hexToBytes(vector.output), 'key');
    });
  }
  const chain = vectors?.ratchet_chain;
  if (!chain) return;
  await check('livekit vectors', `ratchet chain of ${chain.ciphertexts.length} keys (${chain.source})`, async () => {
    let material = keyMaterial(chain.passphrase_utf8);
    for (const [index, expected] of chain.ciphertexts.entries()) {
      const key = await importAesKey(await deriveKeyBytes(material, chain.ratchet_salt_utf8));
      const sealed = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, key, range(17)));
      equalBytes(sealed, hexToBytes(expected), `ciphertext ${index}`);
      material = await ratchetMaterial(material, chain.ratchet_salt_utf8);
    }
  });
}

async function formatChecks(check) {
  const group = 'livekit frame format';
  const sender = new LiveKitSender();
  const receiver = new LiveKitReceiver();
  await sender.setKey('format check', { keyIndex: 3 });
  await receiver.setKey('format check', { keyIndex: 3 });

  for (const [name, frame, codec, clear] of [
    ['VP8 key frame: 10 bytes clear', vp8Frame(true), 'vp8', 10],
    ['VP8 delta frame: 3 bytes clear', vp8Frame(false), 'vp8', 3],
    ['Opus: 1 byte clear', range(80, 0xf8), 'opus', 1],
  ]) {
    await check(group, name, async () => {
      if (clearByteCount(frame, codec) !== clear) throw new Error(`clearByteCount ${clearByteCount(frame, codec)}`);
      const encrypted = await sender.encrypt(frame, { codec, ssrc: 0x11223344, rtpTimestamp: 90000 });
      if (encrypted.length !== frame.length + OVERHEAD) throw new Error(`${encrypted.length} bytes from ${frame.length}`);
      equalBytes(encrypted.subarray(0, clear), frame.subarray(0, clear), 'clear bytes');
      equalBytes(encrypted.subarray(-2), Uint8Array.of(12, 3), 'trailer');
      const iv = encrypted.subarray(-14, -2);
      equalBytes(iv.subarray(0, 8), Uint8Array.of(0x11, 0x22, 0x33, 0x44, 0, 1, 0x5f, 0x90), 'IV ssrc and timestamp');
      const { data, keyIndex, ratchetSteps } = await receiver.decrypt(encrypted, { codec });
      equalBytes(data, frame, 'decrypted');
      return keyIndex === 3 && ratchetSteps === 0;
    });
  }

  await check(group, 'IV: BE32(ssrc) || BE32(timestamp) || BE32(timestamp - sendCount % 0xFFFF), wrapping', () => {
    equalBytes(makeIV(0x01020304, 0x0a0b0c0d, 5), hexToBytes('010203040a0b0c0d0a0b0c08'), 'IV');
    equalBytes(makeIV(0xffffffff, 2, 5), hexToBytes('ffffffff00000002fffffffd'), 'IV (timestamp wraps)');
    equalBytes(makeIV(7, 100, 0xffff + 4), hexToBytes('00000007000000640000006' + '0'), 'IV (sendCount mod 0xFFFF)');
  });
  await check(group, 'IVs of one SSRC differ frame to frame (send count)', async () => {
    const a = await sender.encrypt(vp8Frame(false), { codec: 'vp8', ssrc: 9, rtpTimestamp: 1000 });
    const b = await sender.encrypt(vp8Frame(false), { codec: 'vp8', ssrc: 9, rtpTimestamp: 1000 });
    return bytesToHex(a.subarray(-14, -2)) !== bytesToHex(b.subarray(-14, -2));
  });
  await check(group, 'empty frames pass through both ways', async () => {
    const out = await sender.encrypt(new Uint8Array(0), { codec: 'opus' });
    const back = await receiver.decrypt(new Uint8Array(0), { codec: 'opus' });
    return out.length === 0 && back.data.length === 0;
  });
  await check(group, 'a changed clear byte does not authenticate', async () => {
    const encrypted = await sender.encrypt(vp8Frame(true), { codec: 'vp8' });
    encrypted[5] ^= 1;
    await expectKind(receiver.decrypt(encrypted, { codec: 'vp8' }), 'authentication');
  });
  await check(group, 'a changed ciphertext byte does not authenticate', async () => {
    const encrypted = await sender.encrypt(range(50), { codec: 'opus' });
    encrypted[10] ^= 0x80;
    await expectKind(receiver.decrypt(encrypted, { codec: 'opus' }), 'authentication');
  });
  await check(group, 'IV length other than 12 is refused (syntax)', async () => {
    const encrypted = await sender.encrypt(range(50), { codec: 'opus' });
    encrypted[encrypted.length - 2] = 16;
    await expectKind(receiver.decrypt(encrypted, { codec: 'opus' }), 'syntax');
  });
  await check(group, 'a frame shorter than tag, IV and trailer is refused (syntax)', async () => {
    await expectKind(receiver.decrypt(range(20), { codec: 'opus' }), 'syntax');
  });
  await check(group, 'a key index without a key is refused (keyID)', async () => {
    const other = new LiveKitSender();
    await other.setKey('format check', { keyIndex: 4 });
    await expectKind(receiver.decrypt(await other.encrypt(range(40), { codec: 'opus' }), { codec: 'opus' }), 'keyID');
  });
  await check(group, 'a sender without a key refuses frames (noKey)', async () => {
    await expectKind(new LiveKitSender().encrypt(range(40), { codec: 'opus' }), 'noKey');
  });
  await check(group, 'a wrong passphrase does not authenticate', async () => {
    const other = new LiveKitSender();
    await other.setKey('another passphrase', { keyIndex: 3 });
    await expectKind(receiver.decrypt(await other.encrypt(range(40), { codec: 'opus' }), { codec: 'opus' }), 'authentication');
  });
}

async function h264Checks(check) {
  const group = 'livekit H.264';
  await check(group, 'clear bytes: up to the first slice NAL header, plus one byte', () => {
    const frame = h264Frame();
    const header = h264FirstSliceHeader(frame);
    if (frame[header] !== 0x65) throw new Error(`slice header at ${header}`);
    return clearByteCount(frame, 'h264') === header + 2;
  });
  await check(group, 'a frame without a slice is refused (syntax)', () => {
    try {
      clearByteCount(Uint8Array.of(0, 0, 0, 1, 0x67, 1, 2, 3), 'h264');
    } catch (error) {
      return error.kind === 'syntax';
    }
    return false;
  });
  await check(group, 'emulation prevention: escapes, and unescapes back', () => {
    equalBytes(rbspEscape(Uint8Array.of(0, 0, 0, 0, 0, 3, 0, 0, 1, 0, 0, 4)), hexToBytes('0000030000030003000003010000' + '04'), 'escaped');
    for (let seed = 0; seed < 50; seed++) {
      const bytes = Uint8Array.from({ length: 200 }, (_, i) => ((i * 7 + seed) % 5 === 0 ? (i + seed) & 3 : 0));
      equalBytes(rbspUnescape(rbspEscape(bytes)), bytes, `round trip ${seed}`);
    }
  });
  await check(group, 'broken escaping (a start code after the clear bytes) is refused', () => {
    return rbspUnescape(Uint8Array.of(5, 0, 0, 1, 7)) === null && rbspUnescape(Uint8Array.of(0, 0, 0)) === null;
  });
  await check(group, 'encrypted frames: no start code after the clear bytes; round trip', async () => {
    const sender = new LiveKitSender();
    const receiver = new LiveKitReceiver();
    await sender.setKey('h264 check');
    await receiver.setKey('h264 check');
    const frame = h264Frame();
    const clear = clearByteCount(frame, 'h264');
    for (let i = 0; i < 40; i++) {
      const encrypted = await sender.encrypt(frame, { codec: 'h264', ssrc: i, rtpTimestamp: i * 3000 });
      const body = encrypted.subarray(clear);
      for (let j = 0; j + 2 < body.length; j++) {
        if (body[j] === 0 && body[j + 1] === 0 && body[j + 2] <= 2) throw new Error(`00 00 0${body[j + 2]} at ${clear + j}`);
      }
      equalBytes((await receiver.decrypt(encrypted, { codec: 'h264' })).data, frame, `frame ${i}`);
    }
  });
  await check(group, 'escaping is undone before the trailer is read', async () => {
    // A body that needs escaping however the ciphertext comes out: encrypt, then check that
    // parseFrame finds the same IV and key index as the unescaped layout.
    const key = (await makeKeySet(keyMaterial('escape check'))).key;
    const iv = hexToBytes('000000000000000000000000');
    const frame = h264Frame();
    const encrypted = await encryptFrame(frame, { key, keyIndex: 0, iv, codec: 'h264' });
    const parsed = parseFrame(encrypted, 'h264');
    equalBytes(parsed.iv, iv, 'IV');
    return parsed.keyIndex === 0;
  });
}

async function ratchetChecks(check) {
  const group = 'livekit ratchet';
  await check(group, 'the receiver follows 3 sender ratchets in one frame, then stays', async () => {
    const sender = new LiveKitSender();
    const receiver = new LiveKitReceiver();
    await sender.setKey('ratchet check');
    await receiver.setKey('ratchet check');
    for (let i = 0; i < 3; i++) await sender.ratchet();
    const first = await receiver.decrypt(await sender.encrypt(vp8Frame(true), { codec: 'vp8' }), { codec: 'vp8' });
    const second = await receiver.decrypt(await sender.encrypt(vp8Frame(false), { codec: 'vp8' }), { codec: 'vp8' });
    return first.ratchetSteps === 3 && second.ratchetSteps === 0 && receiver.ratchetSteps === 3 && sender.ratchets === 3;
  });
  await check(group, 'beyond the window (9 steps, window 8) nothing is adopted', async () => {
    const sender = new LiveKitSender();
    const receiver = new LiveKitReceiver();
    await sender.setKey('ratchet check');
    await receiver.setKey('ratchet check');
    const before = await sender.encrypt(range(30), { codec: 'opus' });
    for (let i = 0; i < 9; i++) await sender.ratchet();
    await expectKind(receiver.decrypt(await sender.encrypt(range(30), { codec: 'opus' }), { codec: 'opus' }), 'authentication');
    // The receiver kept its key: a frame under it still decrypts without a step.
    return (await receiver.decrypt(before, { codec: 'opus' })).ratchetSteps === 0 && receiver.ratchetSteps === 0;
  });
  await check(group, 'the sender ratchet equals the vectors\' chain rule', async () => {
    const material = keyMaterial('password');
    const next = await ratchetMaterial(material);
    const sender = new LiveKitSender();
    await sender.setKey('password');
    await sender.ratchet();
    const receiver = new LiveKitReceiver({ ratchetWindowSize: 0 });
    await receiver.setKey(next.bytes, { kind: 'passphrase' });
    return (await receiver.decrypt(await sender.encrypt(range(30), { codec: 'opus' }), { codec: 'opus' })).ratchetSteps === 0;
  });
  await check(group, 'failure tolerance: past it a key index is refused untried until set again', async () => {
    const sender = new LiveKitSender();
    const receiver = new LiveKitReceiver({ failureTolerance: 2, ratchetWindowSize: 1 });
    await sender.setKey('right');
    await receiver.setKey('wrong');
    const frame = await sender.encrypt(range(30), { codec: 'opus' });
    for (let i = 0; i < 3; i++) await expectKind(receiver.decrypt(frame, { codec: 'opus' }), 'authentication');
    await expectKind(receiver.decrypt(frame, { codec: 'opus' }), 'keyInvalidated');
    await receiver.setKey('right');
    return (await receiver.decrypt(frame, { codec: 'opus' })).data.length === 30;
  });
}

/** Runs every check; `vectors` is livekit-e2ee-vectors.json parsed (or null: vector checks fail
 *  with `vectorsError`). Returns {passed, failed, failures, groups}. */
export async function runFrameCryptorSelfTest({ vectors, vectorsError = 'not given', onResult } = {}) {
  const { results, check } = makeChecks(onResult);
  if (vectors) {
    await vectorChecks(check, vectors);
  } else {
    await check('livekit vectors', 'livekit-e2ee-vectors.json', () => { throw new Error(vectorsError); });
  }
  await formatChecks(check);
  await h264Checks(check);
  await ratchetChecks(check);
  return results;
}
