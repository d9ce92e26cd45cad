// The module worker that runs the call's four encoded transforms (video/audio × send/receive).
//
// Frames reach it through RTCRtpScriptTransform (`rtctransform` events) or, on browsers with
// only the older API, as streams the page transfers ({type: 'streams'}). Either way each
// transform pipes readable → protect/unprotect → writable in frame order.
//
// Modes: sframe (RFC 9605, sframe.js), livekit (LiveKit's frame format, framecryptor.js: a
// passphrase at key index 0 in the options, ratchets), negate (the MDN example).
//
// Page → worker: {type: 'add-receive-keys', keys: [{keyId, keyHex, kind?}]},
//   {type: 'set-send-key', kind, keyId, keyHex}, {type: 'remove-receive-key', keyId} (sframe),
//   {type: 'ratchet-send-keys'} (livekit), {type: 'streams', readable, writable, options}.
// Worker → page: {type: 'stats', transforms: [...]} every 500 ms, {type: 'log', level, text},
//   {type: 'send-keys-ratcheted', senders} (livekit).
import {
  SFrameReceiver, SFrameSender, asBytes, hexToBytes, negateFrame,
} from './sframe.js';
import { LiveKitReceiver, LiveKitSender } from './framecryptor.js';

const STATS_INTERVAL_MS = 500;
const KEY_FRAME_REQUEST_INTERVAL_MS = 1000;
const FAILURE_KINDS = ['authentication', 'keyID', 'syntax', 'replay', 'noKey', 'keyInvalidated'];
const MODES = ['sframe', 'livekit', 'negate'];

const transforms = [];

function log(text, level = 'info') {
  self.postMessage({ type: 'log', level, text });
}

/** Which bytes stay clear: the browser's VP8 senders keep the web layout (what Chromium's
 *  packetizer reads); what the GStreamer peer sends keeps its layout, so receivers use that.
 *  options.layout overrides it (a browser-to-browser test needs 'web' on both ends). */
const layoutFor = (side) => (side === 'send' ? 'web' : 'gstreamer');

class FrameTransform {
  constructor(options, transformer) {
    const { side, kind, mode = 'sframe', suite = 4, layout = layoutFor(side) } = options ?? {};
    if (side !== 'send' && side !== 'receive') throw new Error(`transform options: side "${side}" (send or receive)`);
    if (kind !== 'video' && kind !== 'audio') throw new Error(`transform options: kind "${kind}" (video or audio)`);
    if (!MODES.includes(mode)) throw new Error(`transform options: mode "${mode}" (${MODES.join(', ')})`);
    if (layout !== 'web' && layout !== 'gstreamer') throw new Error(`transform options: layout "${layout}" (web or gstreamer)`);
    this.side = side;
    this.kind = kind;
    this.mode = mode;
    this.layout = layout;
    this.transformer = transformer; // null on the encoded-streams path
    this.name = `${kind} ${side === 'send' ? 'sender' : 'receiver'}`;
    this.counts = { frames: 0, encrypted: 0, decrypted: 0, keyFrames: 0, bytesIn: 0, bytesOut: 0, ratchetSteps: 0 };
    this.failures = Object.fromEntries(FAILURE_KINDS.map((kind) => [kind, 0]));
    this.loggedFailures = new Set();
    this.usedKeyIds = new Set(); // KIDs of frames decrypted since the last stats report
    this.lastKeyFrameRequest = -Infinity;
    this.firstSuccessLogged = false;
    // Unsupported suites throw here (SFrameSender/Receiver), before any frame.
    if (mode === 'sframe') {
      if (side === 'send') {
        this.sender = new SFrameSender(suite);
        if (options.sendKey) this.setSendKey(options.sendKey);
      } else {
        this.receiver = new SFrameReceiver(suite);
        for (const key of options.receiveKeys ?? []) this.addReceiveKey(key);
      }
    } else if (mode === 'livekit') {
      // One passphrase at one key index for every sender and receiver (LiveKit's shared key).
      const keyIndex = options.keyIndex ?? 0;
      if (typeof options.passphrase !== 'string' || options.passphrase === '') throw new Error('transform options: livekit needs a passphrase');
      if (side === 'send') {
        this.liveKitSender = new LiveKitSender();
        this.keyReady = this.liveKitSender.setKey(options.passphrase, { keyIndex });
      } else {
        this.liveKitReceiver = new LiveKitReceiver({
          ratchetWindowSize: options.ratchetWindowSize, failureTolerance: options.failureTolerance,
        });
        this.keyReady = this.liveKitReceiver.setKey(options.passphrase, { keyIndex });
      }
      this.keyReady.then(
        () => log(`${this.name}: key index ${keyIndex} derived from the passphrase`),
        (error) => log(`${this.name}: cannot derive the key: ${error.message}`, 'error'));
    }
  }

  /** livekit senders: ratchets the current key one step (receivers follow by themselves). */
  async ratchetSendKey() {
    await this.keyReady;
    await this.liveKitSender.ratchet();
    log(`${this.name}: ratcheted key index ${this.liveKitSender.keyIndex} (${this.liveKitSender.ratchets} so far)`);
  }

  setSendKey({ keyId, keyHex }) {
    // Frames keep using the old key until the new one is derived; no frame goes out keyless.
    this.keyReady = this.sender.setKey(BigInt(keyId), hexToBytes(keyHex)).then(
      (applied) => { if (applied) log(`${this.name}: encrypting with KID ${keyId}`); },
      (error) => log(`${this.name}: cannot use KID ${keyId}: ${error.message}`, 'error'));
    return this.keyReady;
  }

  addReceiveKey({ keyId, keyHex }) {
    this.receiver.addKey(BigInt(keyId), hexToBytes(keyHex));
  }

  removeReceiveKey(keyId) {
    if (this.receiver.removeKey(BigInt(keyId))) log(`${this.name}: removed KID ${keyId}`);
  }

  /** One frame: rewrite frame.data and enqueue it, or drop it (never pass undecrypted data). */
  async transform(frame, controller) {
    const data = asBytes(frame.data);
    this.counts.frames++;
    this.counts.bytesIn += data.length;
    if (this.kind === 'video' && frame.type === 'key') this.counts.keyFrames++;
    // Nothing to protect in an empty frame (Chromium's 'empty' type); pass it as it is.
    if (data.length === 0) {
      controller.enqueue(frame);
      return;
    }
    let output;
    try {
      output = this.mode === 'negate' ? negateFrame(data, this.kind, this.layout)
        : this.mode === 'livekit' ? await this.#livekit(data, frame) : await this.#sframe(data);
    } catch (error) {
      // Dropped, not thrown: a throw would error the pipe and stop all later frames.
      this.#failed(error);
      return;
    }
    frame.data = output.byteLength === output.buffer.byteLength ? output.buffer : output.slice().buffer;
    this.counts.bytesOut += output.length;
    controller.enqueue(frame);
  }

  async #sframe(data) {
    if (this.side === 'send') {
      if (this.sender.keyId === null && this.keyReady) await this.keyReady; // the first key is on its way
      const { data: protectedData } = await this.sender.protect(data, this.kind, this.layout);
      this.counts.encrypted++;
      return protectedData;
    }
    const { data: plain, kid, ctr } = await this.receiver.unprotect(data, this.kind, this.layout);
    this.counts.decrypted++;
    this.usedKeyIds.add(Number(kid));
    if (!this.firstSuccessLogged) {
      this.firstSuccessLogged = true;
      log(`${this.name}: first frame decrypted (KID ${kid}, counter ${ctr})`);
    }
    return plain;
  }

  /** The codec of the frame's bytes: Opus for audio; video is VP8 unless the metadata names
   *  H.264 (the page negotiates VP8). */
  #codecOf(frame) {
    if (this.kind === 'audio') return 'opus';
    const mimeType = String(frame.getMetadata?.().mimeType ?? '').toLowerCase();
    return mimeType.includes('h264') ? 'h264' : 'vp8';
  }

  async #livekit(data, frame) {
    await this.keyReady; // derived once, before the first frame
    const codec = this.#codecOf(frame);
    if (this.side === 'send') {
      const metadata = frame.getMetadata?.() ?? {};
      const ssrc = Number(metadata.synchronizationSource ?? 0) >>> 0;
      const rtpTimestamp = Number(metadata.rtpTimestamp ?? frame.timestamp ?? 0) >>> 0;
      const encrypted = await this.liveKitSender.encrypt(data, { codec, ssrc, rtpTimestamp });
      this.counts.encrypted++;
      return encrypted;
    }
    const { data: plain, keyIndex, ratchetSteps } = await this.liveKitReceiver.decrypt(data, { codec });
    this.counts.decrypted++;
    this.usedKeyIds.add(keyIndex);
    if (ratchetSteps > 0) {
      this.counts.ratchetSteps += ratchetSteps;
      log(`${this.name}: the sender ratcheted key index ${keyIndex}; followed ${ratchetSteps} step(s)`);
    }
    if (!this.firstSuccessLogged) {
      this.firstSuccessLogged = true;
      log(`${this.name}: first frame decrypted (key index ${keyIndex})`);
    }
    return plain;
  }

  #failed(error) {
    const kind = FAILURE_KINDS.includes(error?.kind) ? error.kind : 'syntax';
    this.failures[kind]++;
    if (!this.loggedFailures.has(kind)) {
      this.loggedFailures.add(kind);
      log(`${this.name}: ${this.#describe(kind, error)} (first ${kind} failure; frames like it are dropped)`, 'error');
    }
    if (this.side === 'receive' && this.kind === 'video') this.#requestKeyFrame();
  }

  #describe(kind, error) {
    if (this.mode === 'livekit') return kind === 'syntax' ? `malformed frame: ${error?.message ?? error}` : error.message;
    const held = () => this.receiver.keyIds.join(', ') || 'none';
    switch (kind) {
      case 'authentication': return `authentication failed for KID ${error.kid} counter ${error.ctr}: wrong key?`;
      case 'keyID': return `no key for KID ${error.kid} (holding KIDs ${held()}): key not rotated in yet, or already removed?`;
      case 'noKey': return `${error.message}`;
      case 'replay': return `replayed frame refused: ${error.message}`;
      default: return `malformed frame: ${error?.message ?? error}`;
    }
  }

  /** After a failure the decoder misses a picture: ask the sender for a key frame, at most
   *  once a second (RTCRtpScriptTransformer.sendKeyFrameRequest, where the API has it). */
  #requestKeyFrame() {
    const now = performance.now();
    if (now - this.lastKeyFrameRequest < KEY_FRAME_REQUEST_INTERVAL_MS) return;
    this.lastKeyFrameRequest = now;
    if (typeof this.transformer?.sendKeyFrameRequest !== 'function') return;
    Promise.resolve()
      .then(() => this.transformer.sendKeyFrameRequest())
      .catch((error) => log(`${this.name}: key frame request failed: ${error.message}`, 'error'));
  }

  /** The figures of this period; clears the per-period KID set. */
  stats() {
    const held = this.receiver ? this.receiver.keyIds.map(Number) : (this.liveKitReceiver?.keyIndices ?? []);
    const used = [...this.usedKeyIds].sort((a, b) => a - b);
    this.usedKeyIds.clear();
    const keyId = this.sender?.keyId ?? this.liveKitSender?.keyIndex ?? null;
    return {
      side: this.side, kind: this.kind, mode: this.mode, ...this.counts, failures: { ...this.failures },
      // livekit: ratchets of a sender's key, or steps a receiver followed.
      ratchets: this.liveKitSender?.ratchets ?? this.counts.ratchetSteps,
      keyId: keyId === null ? null : Number(keyId),
      keyIds: this.side === 'send' ? (keyId === null ? [] : [Number(keyId)]) : used,
      keyIdsHeld: held,
    };
  }
}

function start(readable, writable, options, transformer) {
  let transform;
  try {
    transform = new FrameTransform(options, transformer);
  } catch (error) {
    log(`cannot start the ${options?.kind} ${options?.side} transform: ${error.message}`, 'error');
    // Fail closed: pass nothing rather than clear or undecryptable frames.
    readable.cancel(error).catch(() => {});
    return;
  }
  transforms.push(transform);
  log(`${transform.name}: started (${transform.mode}, ${transformer ? 'RTCRtpScriptTransform' : 'encoded streams'})`);
  readable
    .pipeThrough(new TransformStream({ transform: (frame, controller) => transform.transform(frame, controller) }))
    .pipeTo(writable)
    .catch((error) => log(`${transform.name}: stopped: ${error?.message ?? error}`, 'error'));
}

self.onrtctransform = (event) => {
  const { transformer } = event;
  start(transformer.readable, transformer.writable, transformer.options, transformer);
};

function handleMessage(message) {
  switch (message?.type) {
    case 'streams':
      start(message.readable, message.writable, message.options, null);
      break;
    case 'add-receive-keys':
      // A key may name the kind it is for (optional): receivers of other kinds skip it.
      for (const t of transforms) {
        if (!t.receiver) continue;
        for (const key of message.keys) if (!key.kind || key.kind === t.kind) t.addReceiveKey(key);
      }
      log(`receivers: added KIDs ${message.keys.map((k) => k.keyId).join(', ')}`);
      break;
    case 'set-send-key':
      for (const t of transforms) if (t.sender && t.kind === message.kind) t.setSendKey(message);
      break;
    case 'remove-receive-key':
      for (const t of transforms) if (t.receiver) t.removeReceiveKey(message.keyId);
      break;
    case 'ratchet-send-keys': {
      const senders = transforms.filter((t) => t.liveKitSender);
      Promise.all(senders.map((t) => t.ratchetSendKey())).then(
        () => self.postMessage({ type: 'send-keys-ratcheted', senders: senders.length }),
        (error) => log(`ratchet: ${error.message}`, 'error'));
      break;
    }
    default:
      log(`worker: unknown message type "${message?.type}"`, 'error');
  }
}

self.onmessage = (event) => {
  try {
    handleMessage(event.data);
  } catch (error) {
    log(`worker: ${event.data?.type}: ${error.message}`, 'error');
  }
};

setInterval(() => {
  if (transforms.length) self.postMessage({ type: 'stats', transforms: transforms.map((t) => t.stats()) });
}, STATS_INTERVAL_MS);
