// Self test of sframe.js: the RFC 9605 known-answer vectors (suites 4 and 5), the frame format
// shared with the GStreamer plugin, and the VP8 clear-prefix rules on real vp8enc frames.
//
// In a page (selftest.html) it fetches /testdata/sframe-test-vectors.json, shows the results
// and reports them over /signalling (unless ?report=0). Under Node, Tests/web/sframe-check.mjs
// imports runSelfTest() and runs the same checks with more fixtures. The page also runs
// framecryptor.js's self test (LiveKit's format, /testdata/livekit-e2ee-vectors.json), which
// Node runs with Tests/web/framecryptor-check.mjs.
import * as sf from './sframe.js';
import { runFrameCryptorSelfTest } from './framecryptor-selftest.js';

// ---------------------------------------------------------------------------------------------
// JSON with 64-bit integers: JSON.parse would round kid/ctr values above 2^53, so this small
// parser returns a BigInt for every integer literal that is not a safe Number.

export function parseJsonLossless(text) {
  let i = 0;
  const fail = (what) => { throw new SyntaxError(`JSON: ${what} at offset ${i}`); };
  const skipSpace = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const expect = (char) => { skipSpace(); if (text[i] !== char) fail(`expected '${char}'`); i++; };
  const numberPattern = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

  function string() {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)); // escapes decoded by the platform
  }

  function number() {
    numberPattern.lastIndex = i;
    const match = numberPattern.exec(text);
    if (!match) fail('malformed number');
    i = numberPattern.lastIndex;
    if (match[1] !== undefined || match[2] !== undefined) return Number(match[0]);
    const value = Number(match[0]);
    return Number.isSafeInteger(value) ? value : BigInt(match[0]);
  }

  function value() {
    skipSpace();
    const char = text[i];
    if (char === '{') {
      i++;
      const object = {};
      skipSpace();
      if (text[i] === '}') { i++; return object; }
      for (;;) {
        skipSpace();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        expect(':');
        object[key] = value();
        skipSpace();
        if (text[i] === ',') { i++; continue; }
        expect('}');
        return object;
      }
    }
    if (char === '[') {
      i++;
      const array = [];
      skipSpace();
      if (text[i] === ']') { i++; return array; }
      for (;;) {
        array.push(value());
        skipSpace();
        if (text[i] === ',') { i++; continue; }
        expect(']');
        return array;
      }
    }
    if (char === '"') return string();
    if (char === '-' || (char >= '0' && char <= '9')) return number();
    for (const [word, result] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, i)) { i += word.length; return result; }
    }
    return fail('unexpected character');
  }

  const result = value();
  skipSpace();
  if (i !== text.length) fail('trailing characters');
  return result;
}

// ---------------------------------------------------------------------------------------------
// Fixtures: a few of Tests/web/fixtures/*.json (made with GStreamer 1.22's vp8enc / opusenc and
// the plugin's rtpscripttransform, see there), embedded because the page serves only Web/.

export const VP8_FIXTURES = [
  { name: "small-plain-p1/f-000.bin", keyFrame: true, partitions: 1, clear: { web: 10, gstreamer: 151 },
    hex: "b011009d012a400040000147088585889984880202005b61b017e6ff803fba3d81bd05f53ff5cb2e6bc57f14ff74ffa8ea08fe21f879fba7fd4738b3e67fd27f1cff28f608bfa7fe326c88ff40ff6ff6abf189fdaf971f993fce7b827f15fe6ffe2bf28ffb17ffff08dfb41eccdfae5c0591536c3b6ffc3eb269cdf2d80095bbf384b801e2c1dc3bd306d9e723a2de6e00462dca3c9200feffab54e7ae7f4bd6c41cd6466d6ef4eace8f88ff2ca5a65ba31a1c19730bffffd99a6ff33f11739c78536eff0535df410e42145135ece64b85210e6235d5078a0d83be9c8a7ca586de6f9b547e957fb140fdf9631ff88b21a7d694625cbf970bffd9d8eee37ff7e44366f7aad03568194b363767d767a299a1d894a9f095d6f494048a0a1a504d5ebf8b8134588651e7e8ef5941448912c869a2debbaad17df18cbf135d3bd5014151f7eb1787cb3dd577a3cf31de3ee353e780bb777ee31d7905b74ae0b6e3c580acbd650b29bf4a2289186ad85a5bea2883ff96d1b11281fb8949334b36f3586100e98e7fcde884cef4b93e0adbc614b226b2378af615425d98e91061f3e1ce78f847838116d595d10251b5bf567a2ae185da7da8935c8fe310b6315d51c191ae168336ecf131a95ec4f58643540ed3a8e4b475a89878058ca5647d5ba27fa8a32086a69187f17b7f597cd9e10dde3f69916b5f1a91acb6be97e791646396758cfcf299bfc51fe43d4b1f090b179154b76d26f972767d9beb5546bdaa4ef71de7ba89061a0263c798bc61edfffa525198fc472a99cd8a73b20f24d0509f5571b2687b6f51e8eacf0791d3e6d1d7640000" },
  { name: "small-plain-p1/f-001.bin", keyFrame: false, partitions: 1, clear: { web: 3, gstreamer: 33 },
    hex: "d103001311fc00180018582ff400137298a48e5801232e5339a2a589a061b0100000" },
  { name: "small-er-p2/f-001.bin", keyFrame: false, partitions: 2, clear: { web: 3, gstreamer: 47 },
    hex: "310500e537f84bd7af104f4fb10a2fedd0201fc06160bfd0004d425891f55fb48c99cf55fa6d827d469440000100000000" },
  { name: "small-plain-p4/f-002.bin", keyFrame: false, partitions: 4, clear: { web: 3, gstreamer: 38 },
    hex: "5103001515fc0018001858227fe81031eacd4300c6cd656b70ef06800001000001000001000000000000" },
  { name: "small-er-p8/f-003.bin", keyFrame: true, partitions: 8, clear: { web: 10, gstreamer: 89 },
    hex: "5007009d012a40004000393b003d1c240c2c2c44cc2446e80002dabf60d720704340937153d6d11c3fc0c525875d5ceb939218e77d53a8fae93fe43e5ff19bb642ea37900f0000450000320000250000010000010000010000fef147e43071d8b61da77c3be7e000817ca4873f7795fc06b9bfe9cc64f9402820c7fe0472462f467c4258df9a7a4371f52163da68f443580333ab3e3102d27cd89d6b9431cbe3f40e59df9ba5e3e7f95d7d74c0c1f25be7d8d88b6688a1864557e1f48a8418de1a6f8bcea166276ee7f6bc7d929585d05eb90113a7d0f01a42c4b9e43dd4007d0f1ce373463dd94a8c73720114a030ec7fac97262e323215d26017a857f2555b170af00000000000" },
  { name: "small-er-p8/f-001.bin", keyFrame: false, partitions: 8, clear: { web: 3, gstreamer: 65 },
    hex: "310500e537f84bd7af104f4fb10a2ffdb0201fc06160bfd0004d425891f55fb48c99cf55fa6d827d469440000100000100000100000100000100000100000100000000000000000000" },
];

export const PLUGIN_FIXTURES = [
  { name: "v/s4/f-001.bin", kind: "video", mode: "sframe", suite: 4, keyId: 4, key: "000102030405060708090a0b0c0d0e0f",
    plain: "510500e469985bb7af104f4fb10a2fea96a01fc07300bfd0024b239f8b642dd6edbbe9d8d9d14f4b1c2ce977c0030000a259209c18ece0",
    wire: "510500e469985bb7af104f4fb10a2fea96a01fc07300bfd0024b239f8b642dd6edbbe9d8d9d14f4b1c2ce977c00300004e0660c1ca497a900294fff03092546fca8123df7208ddbfdce532e3262812" },
  { name: "v/s5/f-002.bin", kind: "video", mode: "sframe", suite: 5, keyId: 8, key: "000102030405060708090a0b0c0d0e0f",
    plain: "510500e451c8973faf104f4fb10a2fea37601fc079009bffa2e6512374fa2881f2a2b24c9cd285fc344cec9c80040000b932f438abca7000",
    wire: "510500e451c8973faf104f4fb10a2fea37601fc079009bffa2e6512374fa2881f2a2b24c9cd285fc344cec9c800400008e080660c1ca49723d4bd43986334b9bdf7ac29d34954ef51efbbda108edb465e5" },
  { name: "v/neg/f-001.bin", kind: "video", mode: "negate", suite: null, keyId: null, key: null,
    plain: "510500e469985bb7af104f4fb10a2fea96a01fc07300bfd0024b239f8b642dd6edbbe9d8d9d14f4b1c2ce977c0030000a259209c18ece0",
    wire: "510500e469985bb7af104f4fb10a2fea96a01fc07300bfd0024b239f8b642dd6edbbe9d8d9d14f4b1c2ce977c00300005da6df63e7131f" },
  { name: "a/s4/f-001.bin", kind: "audio", mode: "sframe", suite: 4, keyId: 5, key: "000102030405060708090a0b0c0d0e0f",
    plain: "78b4af2e69b00aebe403698bcc5e7ee16456f6893cb916f0b327b9e147a527529ff27a4fd2e66f23589ae03496",
    wire: "785e0660c1ca4a26f89f68ca9f9323e96c995370650d4f358135850348645dbefdd793926b60e47e49f7cfb8abddb489d0fa9f0392231a38d36a1b2087a8c0a08d19542b28" },
  { name: "a/neg/f-001.bin", kind: "audio", mode: "negate", suite: null, keyId: null, key: null,
    plain: "78b4af2e69b00aebe403698bcc5e7ee16456f6893cb916f0b327b9e147a527529ff27a4fd2e66f23589ae03496",
    wire: "784b50d1964ff5141bfc967433a1811e9ba90976c346e90f4cd8461eb85ad8ad600d85b02d1990dca7651fcb69" },
];

// ---------------------------------------------------------------------------------------------
// Checks

const { hexToBytes, bytesToHex } = sf;
const KEY = hexToBytes('000102030405060708090a0b0c0d0e0f');
const WRONG_KEY = hexToBytes('0f0e0d0c0b0a09080706050403020100');

function assertEqual(actual, expected, what) {
  const show = (v) => (v instanceof Uint8Array ? bytesToHex(v) : String(v));
  if (show(actual) !== show(expected)) throw new Error(`${what}: got ${show(actual)}, expected ${show(expected)}`);
}

async function assertRejects(promiseOrFn, kind, what) {
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (error) {
    if (kind && error.kind !== kind && !String(error.message).includes(kind)) {
      throw new Error(`${what}: failed with "${error.kind ?? error.name}: ${error.message}", expected ${kind}`);
    }
    return error;
  }
  throw new Error(`${what}: succeeded, expected ${kind ?? 'a failure'}`);
}

/** Counts checks by group; a check is an async function that throws on failure. */
class Checks {
  passed = 0;
  failed = 0;
  failures = [];
  groups = new Map();
  #onResult;

  constructor(onResult) { this.#onResult = onResult; }

  async run(group, name, body) {
    const counts = this.groups.get(group) ?? { passed: 0, failed: 0 };
    this.groups.set(group, counts);
    try {
      await body();
      this.passed++;
      counts.passed++;
      this.#onResult(group, name, null);
    } catch (error) {
      this.failed++;
      counts.failed++;
      const text = `${group} / ${name}: ${error?.message ?? error}`;
      this.failures.push(text);
      this.#onResult(group, name, text);
    }
  }
}

async function headerVectors(checks, vectors) {
  for (const v of vectors.header ?? []) {
    const kid = BigInt(v.kid), ctr = BigInt(v.ctr);
    await checks.run('header vectors', `kid ${kid} ctr ${ctr}`, () => {
      assertEqual(sf.encodeHeader(kid, ctr), hexToBytes(v.encoded), 'encoded');
      // Decoding must stop at the header: payload bytes follow it in a frame.
      const decoded = sf.decodeHeader(sf.concatBytes(hexToBytes(v.encoded), hexToBytes('c0ffee')));
      assertEqual(decoded.kid, kid, 'decoded kid');
      assertEqual(decoded.ctr, ctr, 'decoded ctr');
      assertEqual(decoded.length, v.encoded.length / 2, 'decoded length');
      if (v.encoded.length > 2) {
        const error = (() => { try { sf.decodeHeader(hexToBytes(v.encoded.slice(0, -2))); } catch (e) { return e; } })();
        assertEqual(error?.kind, 'syntax', 'truncated header');
      }
    });
  }
  if (!vectors.header?.length) await checks.run('header vectors', 'present', () => { throw new Error('no header vectors'); });
}

async function sframeVectors(checks, vectors) {
  let supported = 0;
  for (const v of vectors.sframe ?? []) {
    const suite = Number(v.cipher_suite), kid = BigInt(v.kid), ctr = BigInt(v.ctr);
    if (!sf.SUPPORTED_SUITES.includes(suite)) {
      await checks.run('sframe vectors', `suite ${suite} refused`, async () => {
        const error = await assertRejects(() => sf.deriveKeyAndSalt(hexToBytes(v.base_key), kid, suite), null, `suite ${suite}`);
        assertEqual(error.message, `suite ${suite} is not supported by this page (supported: 4, 5)`, 'message');
      });
      continue;
    }
    supported++;
    await checks.run('sframe vectors', `suite ${suite}`, async () => {
      const base = hexToBytes(v.base_key), metadata = hexToBytes(v.metadata);
      const { key, salt } = await sf.deriveKeyAndSalt(base, kid, suite);
      assertEqual(key, hexToBytes(v.sframe_key), 'sframe_key');
      assertEqual(salt, hexToBytes(v.sframe_salt), 'sframe_salt');
      assertEqual(sf.computeNonce(salt, ctr), hexToBytes(v.nonce), 'nonce');
      assertEqual(sf.concatBytes(sf.encodeHeader(kid, ctr), metadata), hexToBytes(v.aad), 'aad');
      const material = await sf.deriveKeyMaterial(base, kid, suite);
      const ct = hexToBytes(v.ct);
      assertEqual(await sf.sframeEncrypt(material, ctr, hexToBytes(v.pt), metadata), ct, 'ct');
      const opened = await sf.sframeDecrypt(ct, metadata, () => material);
      assertEqual(opened.plaintext, hexToBytes(v.pt), 'decrypted pt');
      assertEqual(opened.kid, kid, 'decrypted kid');
      assertEqual(opened.ctr, ctr, 'decrypted ctr');
      // One flipped bit anywhere after the header, or in the metadata, must fail to authenticate.
      const headerLength = sf.decodeHeader(ct).length;
      for (const index of [headerLength, Math.floor((headerLength + ct.length) / 2), ct.length - 1]) {
        const flipped = new Uint8Array(ct);
        flipped[index] ^= 0x01;
        await assertRejects(sf.sframeDecrypt(flipped, metadata, () => material), 'authentication', `bit flipped at byte ${index}`);
      }
      const badMetadata = new Uint8Array(metadata);
      badMetadata[0] ^= 0x80;
      await assertRejects(sf.sframeDecrypt(ct, badMetadata, () => material), 'authentication', 'metadata flipped');
      await assertRejects(sf.sframeDecrypt(ct, metadata, () => undefined), 'keyID', 'unknown KID');
    });
  }
  if (supported !== 2) await checks.run('sframe vectors', 'suites 4 and 5 present', () => { throw new Error(`${supported} vectors for suites 4/5, expected 2`); });
}

function opusLikeFrame(length = 80) {
  const frame = new Uint8Array(length);
  for (let i = 0; i < length; i++) frame[i] = (i * 37 + 11) & 0xff;
  frame[0] = 0x78; // TOC: SILK-only wideband 20 ms, one frame
  return frame;
}

async function frameFormat(checks, vp8Frames) {
  const group = 'frame format';
  const keyFrame = hexToBytes(vp8Frames.find((f) => f.keyFrame).hex);
  const deltaFrame = hexToBytes(vp8Frames.find((f) => !f.keyFrame).hex);

  await checks.run(group, 'Opus round trip (1 clear byte, KID 7)', async () => {
    const sender = new sf.SFrameSender(4, { counterStart: () => 1000n });
    await sender.setKey(7n, KEY);
    const frame = opusLikeFrame();
    const first = await sender.protect(frame, 'audio', 'web');
    assertEqual(first.data[0], 0x78, 'clear TOC byte');
    const header = sf.decodeHeader(first.data, 1);
    assertEqual(header.kid, 7n, 'kid');
    assertEqual(header.ctr, 1000n, 'first counter');
    assertEqual(first.data.length, frame.length + header.length + 16, 'length');
    assertEqual((await sender.protect(frame, 'audio', 'web')).ctr, 1001n, 'second counter');
    const receiver = new sf.SFrameReceiver(4);
    receiver.addKey(7n, KEY);
    assertEqual((await receiver.unprotect(first.data, 'audio', 'gstreamer')).data, frame, 'decrypted');
  });

  for (const [name, frame] of [['key', keyFrame], ['delta', deltaFrame]]) {
    for (const suite of [4, 5]) {
      await checks.run(group, `VP8 ${name} frame round trip, web layout, suite ${suite}`, async () => {
        const sender = new sf.SFrameSender(suite);
        await sender.setKey(6n, KEY);
        const { data, ctr } = await sender.protect(frame, 'video', 'web');
        const clear = name === 'key' ? 10 : 3;
        assertEqual(data.subarray(0, clear), frame.subarray(0, clear), 'clear prefix');
        assertEqual(sf.decodeHeader(data, clear).ctr, ctr, 'header after the prefix');
        const receiver = new sf.SFrameReceiver(suite);
        receiver.addKey(6n, KEY);
        const opened = await receiver.unprotect(data, 'video', 'web');
        assertEqual(opened.data, frame, 'decrypted');
        assertEqual(opened.kid, 6n, 'kid');
      });
    }
    await checks.run(group, `VP8 ${name} frame round trip, gstreamer layout`, async () => {
      const sender = new sf.SFrameSender(4);
      await sender.setKey(4n, KEY);
      const { data } = await sender.protect(frame, 'video', 'gstreamer');
      const clear = sf.clearPrefixLength(frame, 'video', 'gstreamer');
      assertEqual(sf.clearPrefixLength(data, 'video', 'gstreamer'), clear, 'receiver finds the same prefix');
      const receiver = new sf.SFrameReceiver(4);
      receiver.addKey(4n, KEY);
      assertEqual((await receiver.unprotect(data, 'video', 'gstreamer')).data, frame, 'decrypted');
    });
  }

  await checks.run(group, 'counter starts at the clock in microseconds', async () => {
    const sender = new sf.SFrameSender(4);
    await sender.setKey(10n, KEY);
    const now = BigInt(Date.now()) * 1000n;
    const { ctr } = await sender.protect(opusLikeFrame(), 'audio', 'web');
    if (ctr < now - 10_000_000n || ctr > now + 10_000_000n) throw new Error(`counter ${ctr} is not near ${now}`);
  });

  await checks.run(group, 'counters are kept per KID across key switches', async () => {
    let start = 500n;
    const sender = new sf.SFrameSender(4, { counterStart: () => (start += 1000n) });
    const next = async () => (await sender.protect(opusLikeFrame(), 'audio', 'web')).ctr;
    await sender.setKey(6n, KEY);
    assertEqual(await next(), 1500n, 'KID 6 first');
    assertEqual(await next(), 1501n, 'KID 6 second');
    await sender.setKey(10n, KEY);
    assertEqual(sender.keyId, 10n, 'keyId');
    assertEqual(await next(), 2500n, 'KID 10 first');
    await sender.setKey(6n, KEY);
    assertEqual(await next(), 1502n, 'KID 6 after switching back');
  });

  await checks.run(group, 'replay window: a frame seen before or older than 64 frames is refused', async () => {
    let start = 1000n;
    const sender = new sf.SFrameSender(4, { counterStart: () => start });
    await sender.setKey(7n, KEY);
    const frames = [];
    for (let i = 0; i < 70; i++) frames.push((await sender.protect(opusLikeFrame(), 'audio', 'web')).data);
    const receiver = new sf.SFrameReceiver(4);
    receiver.addKey(7n, KEY);
    assertEqual((await receiver.unprotect(frames[5], 'audio', 'web')).ctr, 1005n, 'first');
    await assertRejects(receiver.unprotect(frames[5], 'audio', 'web'), 'replay', 'the same frame again');
    assertEqual((await receiver.unprotect(frames[3], 'audio', 'web')).ctr, 1003n, 'older, inside the window, not seen');
    assertEqual((await receiver.unprotect(frames[69], 'audio', 'web')).ctr, 1069n, 'newer');
    await assertRejects(receiver.unprotect(frames[4], 'audio', 'web'), 'replay', '65 behind the highest');
    assertEqual((await receiver.unprotect(frames[6], 'audio', 'web')).ctr, 1006n, '63 behind, not seen');
    await assertRejects(receiver.unprotect(frames[69], 'audio', 'web'), 'replay', 'the highest again');
  });

  await checks.run(group, 'a sender without a key refuses frames (noKey)', async () => {
    await assertRejects(new sf.SFrameSender(4).protect(opusLikeFrame(), 'audio', 'web'), 'noKey', 'keyless sender');
  });

  await checks.run(group, 'receiver failures: authentication, keyID, syntax', async () => {
    const sender = new sf.SFrameSender(4);
    await sender.setKey(6n, KEY);
    const { data } = await sender.protect(keyFrame, 'video', 'web');
    const wrong = new sf.SFrameReceiver(4);
    wrong.addKey(6n, WRONG_KEY);
    await assertRejects(wrong.unprotect(data, 'video', 'web'), 'authentication', 'wrong key');
    const other = new sf.SFrameReceiver(4);
    other.addKey(2n, KEY);
    await assertRejects(other.unprotect(data, 'video', 'web'), 'keyID', 'unknown KID');
    const right = new sf.SFrameReceiver(4);
    right.addKey(6n, KEY);
    const tamperedPrefix = new Uint8Array(data);
    tamperedPrefix[7] ^= 0x01; // a clear byte (width): authenticated as metadata
    await assertRejects(right.unprotect(tamperedPrefix, 'video', 'web'), 'authentication', 'clear prefix changed');
    const header = sf.decodeHeader(data, 10);
    await assertRejects(right.unprotect(data.subarray(0, 10 + header.length + 8), 'video', 'web'), 'syntax', 'cut before the tag ends');
    await assertRejects(right.unprotect(data.subarray(0, 10), 'video', 'web'), 'syntax', 'nothing after the prefix');
    await assertRejects(right.unprotect(new Uint8Array([0x78]), 'audio', 'web'), 'syntax', '1-byte Opus frame');
    right.removeKey(6n);
    await assertRejects(right.unprotect(data, 'video', 'web'), 'keyID', 'removed key');
  });

  await checks.run(group, 'negate is its own inverse and keeps the prefix', () => {
    for (const [frame, kind, layout] of [[keyFrame, 'video', 'web'], [deltaFrame, 'video', 'gstreamer'], [opusLikeFrame(), 'audio', 'web']]) {
      const clear = sf.clearPrefixLength(frame, kind, layout);
      const negated = sf.negateFrame(frame, kind, layout);
      assertEqual(negated.subarray(0, clear), frame.subarray(0, clear), `${kind} ${layout} prefix`);
      assertEqual(negated[clear], frame[clear] ^ 0xff, `${kind} ${layout} first negated byte`);
      assertEqual(sf.negateFrame(negated, kind, layout), frame, `${kind} ${layout} twice`);
    }
  });

  await checks.run(group, 'unsupported suites are refused with a clear error', async () => {
    for (const suite of [1, 2, 3, 6, 0]) {
      const error = await assertRejects(() => new sf.SFrameSender(suite), null, `suite ${suite}`);
      assertEqual(error.message, `suite ${suite} is not supported by this page (supported: 4, 5)`, 'message');
    }
  });
}

/** The partition-size table after the first partition plus a non-empty last partition must
 *  add up to the frame: proves the partition count read from the first partition. */
function partitionTableAddsUp(bytes, partitions) {
  const start = (sf.isVP8KeyFrame(bytes) ? 10 : 3) + sf.vp8FirstPartitionSize(bytes);
  let total = start + 3 * (partitions - 1);
  for (let p = 0; p < partitions - 1; p++) {
    const at = start + 3 * p;
    total += bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16);
  }
  return total < bytes.length;
}

async function vp8Layout(checks, vp8Frames) {
  const group = 'VP8 layout';
  for (const f of vp8Frames) {
    await checks.run(group, `${f.name} (${f.keyFrame ? 'key' : 'delta'}, ${f.partitions} partitions)`, () => {
      const bytes = hexToBytes(f.hex);
      assertEqual(sf.isVP8KeyFrame(bytes), f.keyFrame, 'key frame');
      assertEqual(sf.vp8PartitionCount(bytes), f.partitions, 'partition count');
      if (!partitionTableAddsUp(bytes, f.partitions)) throw new Error('partition table does not add up to the frame length');
      assertEqual(sf.clearPrefixLength(bytes, 'video', 'web'), f.clear.web, 'web clear prefix');
      assertEqual(sf.clearPrefixLength(bytes, 'video', 'gstreamer'), f.clear.gstreamer, 'gstreamer clear prefix');
    });
  }

  const key = hexToBytes(vp8Frames.find((f) => f.keyFrame).hex);
  const delta = hexToBytes(vp8Frames.find((f) => !f.keyFrame).hex);
  const keySize = sf.vp8FirstPartitionSize(key), deltaSize = sf.vp8FirstPartitionSize(delta);
  const cases = [
    ['key frame cut inside its first partition', key.subarray(0, 10 + (keySize >> 1)), null, 10 + (keySize >> 1)],
    ['delta frame cut inside its first partition', delta.subarray(0, 3 + (deltaSize >> 1)), null, 3 + (deltaSize >> 1)],
    ['key frame without start code', (() => { const b = new Uint8Array(key); b[4] = 0x02; return b; })(), null, Math.min(10 + keySize + 21, key.length)],
    ['key frame shorter than 10 bytes', key.subarray(0, 7), null, 7],
    // First partition of 1 byte: the decoder runs out before log2_nbr_of_dct_partitions.
    ['first partition too short for the field', (() => { const b = new Uint8Array(key); b[0] = (b[0] & 0x1f) | 0x20; b[1] = 0; b[2] = 0; return b; })(), null, 10 + 1 + 21],
    ['2-byte frame', new Uint8Array([0x10, 0x02]), null, 2],
    ['1-byte frame', new Uint8Array([0x11]), null, 1],
    ['empty frame', new Uint8Array(0), null, 0],
  ];
  for (const [name, bytes, partitions, clear] of cases) {
    await checks.run(group, name, () => {
      assertEqual(sf.vp8PartitionCount(bytes), partitions, 'partition count');
      assertEqual(sf.clearPrefixLength(bytes, 'video', 'gstreamer'), clear, 'gstreamer clear prefix');
      assertEqual(sf.clearPrefixLength(bytes, 'video', 'web'), Math.min(sf.isVP8KeyFrame(bytes) ? 10 : 3, bytes.length), 'web clear prefix');
    });
  }
  await checks.run(group, 'Opus keeps 1 byte clear in both layouts', () => {
    for (const layout of ['web', 'gstreamer']) {
      assertEqual(sf.clearPrefixLength(opusLikeFrame(), 'audio', layout), 1, layout);
      assertEqual(sf.clearPrefixLength(new Uint8Array(0), 'audio', layout), 0, `${layout} empty`);
    }
  });
  await checks.run(group, 'unknown kinds and layouts are refused', async () => {
    await assertRejects(() => sf.clearPrefixLength(key, 'video', 'none'), 'layout', 'layout none');
    await assertRejects(() => sf.clearPrefixLength(key, 'data', 'web'), 'kind', 'kind data');
  });
}

async function pluginFrames(checks, frames) {
  for (const f of frames) {
    await checks.run('GStreamer plugin frames', `${f.name} (${f.kind} ${f.mode}${f.suite ? ` suite ${f.suite}` : ''})`, async () => {
      const wire = hexToBytes(f.wire), plain = hexToBytes(f.plain);
      if (f.mode === 'negate') {
        assertEqual(sf.negateFrame(wire, f.kind, 'gstreamer'), plain, 'un-negated');
        return;
      }
      const receiver = new sf.SFrameReceiver(f.suite);
      receiver.addKey(BigInt(f.keyId), hexToBytes(f.key));
      const opened = await receiver.unprotect(wire, f.kind, 'gstreamer');
      assertEqual(opened.data, plain, 'decrypted');
      assertEqual(opened.kid, BigInt(f.keyId), 'kid');
    });
  }
}

/** Runs every check. `vectors`: the parsed RFC 9605 vector file (null when unavailable).
 *  Returns {passed, failed, failures, groups}. */
export async function runSelfTest({ vectors, vectorsError = 'not given', vp8Frames = VP8_FIXTURES, pluginFrames: plugin = PLUGIN_FIXTURES, onResult = () => {} } = {}) {
  const checks = new Checks(onResult);
  if (vectors) {
    await headerVectors(checks, vectors);
    await sframeVectors(checks, vectors);
  } else {
    await checks.run('vectors', 'sframe-test-vectors.json', () => { throw new Error(`the RFC 9605 test vectors could not be loaded: ${vectorsError}`); });
  }
  await frameFormat(checks, vp8Frames);
  await vp8Layout(checks, vp8Frames);
  await pluginFrames(checks, plugin);
  return { passed: checks.passed, failed: checks.failed, failures: checks.failures, groups: Object.fromEntries(checks.groups) };
}

// ---------------------------------------------------------------------------------------------
// The page

async function loadVectors(name) {
  const response = await fetch(`/testdata/${name}`, { cache: 'no-store' });
  if (!response.ok) throw new Error(`GET /testdata/${name}: HTTP ${response.status}`);
  return parseJsonLossless(await response.text());
}

/** {vectors, vectorsError} of a test data file. */
async function vectorsOf(name) {
  try {
    return { vectors: await loadVectors(name) };
  } catch (error) {
    return { vectors: null, vectorsError: error.message };
  }
}

/** Sends the result over /signalling and closes the socket once it is out. */
function report(message) {
  return new Promise((resolve) => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/signalling`);
    const done = (text) => { console.log(`selftest: report ${text}`); resolve(); };
    socket.onopen = () => {
      socket.send(JSON.stringify(message));
      // close() after send() still delivers what was queued.
      socket.close(1000, 'selftest reported');
      done('sent');
    };
    socket.onerror = () => done('failed: no signalling socket');
  });
}

function render(result, reportState) {
  const summary = document.getElementById('summary');
  summary.textContent = `${result.failed === 0 ? 'PASS' : 'FAIL'}: ${result.passed} passed, ${result.failed} failed${reportState}`;
  summary.className = result.failed === 0 ? 'pass' : 'fail';
  const rows = document.getElementById('groups');
  rows.replaceChildren(...Object.entries(result.groups).map(([group, counts]) => {
    const row = document.createElement('tr');
    for (const text of [group, counts.passed, counts.failed]) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    if (counts.failed) row.className = 'fail';
    return row;
  }));
  const list = document.getElementById('failures');
  list.replaceChildren(...result.failures.map((text) => Object.assign(document.createElement('li'), { textContent: text })));
}

async function runPage() {
  const shouldReport = new URLSearchParams(location.search).get('report') !== '0';
  const crashed = (error) => ({ passed: 0, failed: 1, failures: [`the self test crashed: ${error?.stack ?? error}`], groups: {} });
  let sframe;
  try {
    sframe = await runSelfTest(await vectorsOf('sframe-test-vectors.json'));
  } catch (error) {
    sframe = crashed(error);
  }
  let livekit;
  try {
    livekit = await runFrameCryptorSelfTest(await vectorsOf('livekit-e2ee-vectors.json'));
  } catch (error) {
    livekit = crashed(error);
  }
  const result = {
    passed: sframe.passed + livekit.passed, failed: sframe.failed + livekit.failed,
    failures: [...sframe.failures, ...livekit.failures], groups: { ...sframe.groups, ...livekit.groups },
  };
  for (const failure of result.failures) console.error(`selftest FAILED ${failure}`);
  console.log(`selftest: ${result.passed} passed, ${result.failed} failed`);
  document.title = `selftest ${result.failed === 0 ? 'PASS' : 'FAIL'} ${result.passed}/${result.passed + result.failed}`;
  globalThis.selftestResult = result;
  render(result, shouldReport ? ' (reporting…)' : '');
  if (shouldReport) {
    await report({
      type: 'selftest', passed: result.passed, failed: result.failed, failures: result.failures,
      sframe: { passed: sframe.passed, failed: sframe.failed }, livekit: { passed: livekit.passed, failed: livekit.failed },
    });
    render(result, ' (reported to the server)');
  }
}

if (typeof document !== 'undefined') runPage();
