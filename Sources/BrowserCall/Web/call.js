// The call page: camera and microphone to a GStreamer peer over WebRTC, every encoded frame
// end-to-end encrypted in transform-worker.js with SFrame (?e2ee=sframe, the default) or
// LiveKit's frame format (?e2ee=livekit), or negated (?mode=negate, the MDN example).
//
// Signalling (JSON over the WebSocket /signalling): the page says hello, the GStreamer peer
// offers, the page answers. Keys never go to the server except on SFrame rotation, when the page
// itself picks the next generation's key. SFrame key ids: 4 × generation + sender, sender 0/1
// the GStreamer video/audio, 2/3 the browser video/audio, so no two senders share a key and
// nonce. LiveKit: one passphrase (#passphrase=, key index 0) for everybody, as LiveKit's shared
// key; rotation ratchets the senders' keys and the receivers follow through their ratchet windows.
import { bytesToHex, cipherSuite, hexToBytes } from './sframe.js';

const DEFAULT_KEY = '000102030405060708090a0b0c0d0e0f';
/** The GStreamer peer's default too (LoopbackConfiguration.demoPassphrase). */
const DEFAULT_PASSPHRASE = 'insertable streams demo';
const MODES = ['sframe', 'livekit', 'negate'];
const STATS_INTERVAL_MS = 500;
const OLD_KEYS_KEPT_MS = 10_000; // frames under the old key may still be in flight
const SENDER_INDEX = { video: { gstreamer: 0, browser: 2 }, audio: { gstreamer: 1, browser: 3 } };
const KINDS = ['video', 'audio'];
const SIDES = ['send', 'receive'];

const keyIdOf = (generation, kind, sender) => 4 * generation + SENDER_INDEX[kind][sender];

const $ = (id) => document.getElementById(id);
const ui = {
  mode: $('mode'), key: $('key'), keyLabel: $('key-label'), suite: $('suite'), start: $('start'), rotate: $('rotate'),
  status: $('status'), localVideo: $('local-video'), remoteVideo: $('remote-video'),
  summary: $('summary'), statsBody: $('stats-body'), log: $('log'),
};

const params = new URLSearchParams(location.search);
const fragment = new URLSearchParams(location.hash.slice(1));

const state = {
  mode: 'sframe',
  /** Clear bytes of the GStreamer peer's VP8 ('gstreamer' or 'web'), from the offer message. */
  peerVideoLayout: 'gstreamer',
  suite: 4,
  api: null,
  generation: 1,
  keyHex: null,
  passphrase: null, // livekit
  ratchetPending: false, // livekit: the worker is ratcheting the senders' keys
  receiveGenerations: new Map(), // generation -> key hex, the receivers hold these
  pendingRotation: null, // {generation, keyHex}
  socket: null,
  outbox: [], // messages (logs) written before the socket opened
  messages: Promise.resolve(), // server messages, handled one after the other
  pc: null,
  worker: null,
  localStream: null,
  remoteStream: new MediaStream(),
  pendingCandidates: [],
  transformsAttached: new WeakSet(),
  workerStats: new Map(), // "side kind" -> latest figures
  usedKeyIds: new Map(), // "side kind" -> KIDs decrypted since the last report
  rtpStats: null,
  peerStats: null,
  statsTimer: null,
};

// ---------------------------------------------------------------------------------------------
// Log: on the page, in the console, and (for a headless run) on the server.

function log(text, level = 'info', { remote = true } = {}) {
  const line = `${new Date().toISOString().slice(11, 23)} ${level === 'error' ? 'ERROR ' : ''}${text}`;
  ui.log.textContent += `${line}\n`;
  ui.log.scrollTop = ui.log.scrollHeight;
  (level === 'error' ? console.error : console.log)(`call: ${text}`);
  if (remote) send({ type: 'log', level, text });
}

function showStatus(text, isError = false) {
  ui.status.textContent = text;
  ui.status.className = isError ? 'error' : '';
}

function fail(error, context) {
  const text = `${context}: ${error?.message ?? error}`;
  showStatus(text, true);
  log(text, 'error');
}

window.addEventListener('error', (event) => {
  log(`uncaught error: ${event.message} (${event.filename}:${event.lineno}:${event.colno})`, 'error');
});
window.addEventListener('unhandledrejection', (event) => {
  log(`unhandled rejection: ${event.reason?.stack ?? event.reason}`, 'error');
});

// ---------------------------------------------------------------------------------------------
// Signalling

function send(message) {
  if (state.socket?.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify(message));
  } else if (state.outbox.length < 200) {
    state.outbox.push(message);
  }
}

function connectSignalling() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signalling`;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.onopen = () => {
      state.socket = socket;
      for (const message of state.outbox.splice(0)) socket.send(JSON.stringify(message));
      resolve(socket);
    };
    socket.onerror = () => reject(new Error(`cannot open the signalling socket ${url}`));
    socket.onclose = (event) => {
      if (state.socket !== socket) return;
      log(`signalling socket closed (code ${event.code}${event.reason ? `: ${event.reason}` : ''})`, 'error', { remote: false });
      showStatus('signalling socket closed', true);
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        log(`server sent something that is not JSON: ${String(event.data).slice(0, 100)}`, 'error');
        return;
      }
      // One at a time: ICE candidates must not overtake the offer they belong to.
      state.messages = state.messages.then(() => handleServerMessage(message))
        .catch((error) => fail(error, `handling "${message.type}"`));
    };
  });
}

async function handleServerMessage(message) {
  switch (message.type) {
    case 'offer': return handleOffer(message.sdp, message.videoLayout);
    case 'ice': return addRemoteCandidate(message);
    case 'key-rotated': return keyRotated(Number(message.generation));
    case 'error': return serverError(String(message.message));
    case 'peer-stats':
      state.peerStats = message;
      return render();
    case 'rotate-key-request':
      log('the server asks for a key rotation');
      return rotateKey();
    case 'ratchet-key-request':
      log('the server asks the page to ratchet its send keys');
      return ratchetSendKeys({ askServer: false });
    default:
      log(`unknown message type from the server: "${message.type}"`, 'error');
  }
}

function serverError(text) {
  log(`server: ${text}`, 'error', { remote: false });
  showStatus(`server: ${text}`, true);
  if (state.pendingRotation) rotationFailed(text);
}

// ---------------------------------------------------------------------------------------------
// Starting the call

/** Which encoded-transform API this browser has; throws naming what is missing. */
/** RTCRtpScriptTransform when the browser has it, else the older createEncodedStreams();
 *  ?api=encoded-streams forces the older one (where both exist: to test the fallback). */
function detectTransformApi() {
  const apis = {
    'script-transform': typeof RTCRtpScriptTransform === 'function',
    'encoded-streams': typeof RTCRtpSender !== 'undefined' && typeof RTCRtpSender.prototype.createEncodedStreams === 'function',
  };
  const wanted = params.get('api');
  if (wanted) {
    if (!(wanted in apis)) throw new Error(`api=${wanted}: use script-transform or encoded-streams`);
    if (!apis[wanted]) throw new Error(`api=${wanted}: this browser does not have it`);
    return wanted;
  }
  if (apis['script-transform']) return 'script-transform';
  if (apis['encoded-streams']) return 'encoded-streams';
  throw new Error('this browser has neither RTCRtpScriptTransform nor RTCRtpSender.prototype.createEncodedStreams: no encoded transforms, so no end-to-end encryption');
}

function readSettings() {
  const mode = ui.mode.value;
  if (!MODES.includes(mode)) throw new Error(`mode "${mode}" (${MODES.join(', ')})`);
  const suite = cipherSuite(params.get('suite') ?? '4').id;
  if (mode === 'livekit') {
    const passphrase = ui.key.value;
    if (passphrase === '') throw new Error('the passphrase is empty');
    return { mode, suite, passphrase };
  }
  const keyHex = ui.key.value.trim().toLowerCase();
  if (mode === 'sframe') {
    const key = hexToBytes(keyHex);
    if (key.length < 16) throw new Error(`the key has ${key.length} bytes; SFrame base keys need at least 16 (32 hex digits)`);
  }
  return { mode, suite, keyHex };
}

async function startCall() {
  ui.start.disabled = ui.mode.disabled = ui.key.disabled = true;
  showStatus('connecting…');
  try {
    // The socket first, so that every later error reaches the server's log.
    if (state.socket?.readyState !== WebSocket.OPEN) await connectSignalling();
    Object.assign(state, readSettings());
    state.api = detectTransformApi();
    state.receiveGenerations.set(state.generation, state.keyHex);
    state.localStream = await localMedia();
    ui.localVideo.srcObject = state.localStream;
    log(`sending: ${state.localStream.getTracks().map((t) => `${t.kind} "${t.label}"`).join(', ')}`);
    startWorker();
    createPeerConnection();
    send({ type: 'hello', mode: state.mode, suite: state.suite, api: state.api, userAgent: navigator.userAgent });
    log(`hello sent: mode ${state.mode}, suite ${state.suite}, ${state.api}; waiting for the offer`);
    showStatus('waiting for the GStreamer peer’s offer…');
    state.statsTimer = setInterval(() => reportStats().catch((error) => fail(error, 'stats')), STATS_INTERVAL_MS);
    render();
  } catch (error) {
    fail(error, 'cannot start the call');
    // Nothing negotiated yet (no hello sent): the settings can be fixed and Start tried again.
    if (!state.pc) ui.start.disabled = ui.mode.disabled = ui.key.disabled = false;
  }
}

/** Camera and microphone; without them (no devices, permission refused, or ?media=synthetic)
 *  a drawn test pattern and a 660 Hz tone, so that a call works on any machine. */
async function localMedia() {
  if (params.get('media') !== 'synthetic') {
    try {
      return await navigator.mediaDevices.getUserMedia({
        audio: true, video: { width: 640, height: 480, frameRate: 30 },
      });
    } catch (error) {
      log(`no camera and microphone (${error.name}: ${error.message})`);
    }
  }
  return syntheticMedia();
}

function syntheticMedia() {
  log('sending a drawn test pattern and a 660 Hz tone (synthetic media)');
  const canvas = Object.assign(document.createElement('canvas'), { width: 640, height: 480 });
  const context = canvas.getContext('2d');
  let frame = 0;
  const draw = () => {
    context.fillStyle = '#203040';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.fillStyle = '#f0c020'; // a bar sweeping across: motion for the encoder
    context.fillRect((frame * 8) % canvas.width, 0, 40, canvas.height);
    context.fillStyle = '#ffffff';
    context.font = '48px sans-serif';
    context.fillText(`synthetic ${frame}`, 40, 260);
    frame++;
  };
  draw();
  setInterval(draw, 1000 / 30);
  const audio = new AudioContext();
  const tone = new OscillatorNode(audio, { frequency: 660 });
  const destination = audio.createMediaStreamDestination();
  tone.connect(destination);
  tone.start();
  return new MediaStream([...canvas.captureStream(30).getVideoTracks(), ...destination.stream.getAudioTracks()]);
}

function startWorker() {
  state.worker = new Worker('transform-worker.js', { type: 'module' });
  state.worker.onmessage = ({ data }) => {
    if (data?.type === 'stats') workerStats(data.transforms);
    else if (data?.type === 'log') log(`worker: ${data.text}`, data.level === 'error' ? 'error' : 'info');
    else if (data?.type === 'send-keys-ratcheted') sendKeysRatcheted(data.senders);
  };
  state.worker.onerror = (event) => {
    event.preventDefault();
    log(`worker error: ${event.message ?? 'failed to load transform-worker.js'} (${event.filename ?? ''}:${event.lineno ?? ''})`, 'error');
  };
  state.worker.onmessageerror = () => log('worker: a message could not be deserialized', 'error');
}

function createPeerConnection() {
  const configuration = { bundlePolicy: 'max-bundle', iceServers: [] };
  // Chromium's older API needs the flag at construction; streams are created per sender/receiver.
  if (state.api === 'encoded-streams') configuration.encodedInsertableStreams = true;
  const pc = new RTCPeerConnection(configuration);
  state.pc = pc;
  pc.onicecandidate = ({ candidate }) => {
    // null / empty candidate = end of candidates: not sent (the protocol has no message for it).
    if (!candidate?.candidate) return;
    send({ type: 'ice', candidate: candidate.candidate, sdpMLineIndex: candidate.sdpMLineIndex ?? 0 });
  };
  pc.ontrack = ({ track, transceiver }) => {
    // Here, during setRemoteDescription: Chromium bypasses the transforms of a sender or
    // receiver that has none right after setRemoteDescription (found with Chromium 156).
    attachTransforms(transceiver, track.kind);
    state.remoteStream.addTrack(track);
    if (ui.remoteVideo.srcObject !== state.remoteStream) ui.remoteVideo.srcObject = state.remoteStream;
    playRemote();
    log(`receiving ${track.kind}`);
  };
  pc.onconnectionstatechange = () => {
    const connection = pc.connectionState;
    log(`connection ${connection}`, connection === 'failed' ? 'error' : 'info');
    showStatus(`connection ${connection}`, connection === 'failed');
    render();
  };
}

/** Autoplay with sound may be refused without a user gesture (autostart): then play muted. */
function playRemote() {
  ui.remoteVideo.play().catch((error) => {
    if (error.name !== 'NotAllowedError') return; // e.g. interrupted by the next track's play()
    ui.remoteVideo.muted = true;
    ui.remoteVideo.play().catch(() => {});
    log('remote media plays muted (autoplay policy); unmute it on the video element');
  });
}

// ---------------------------------------------------------------------------------------------
// Offer / answer / ICE

async function handleOffer(sdp, videoLayout = 'gstreamer') {
  if (!state.pc) throw new Error('an offer arrived before the call started');
  if (videoLayout !== 'gstreamer' && videoLayout !== 'web') throw new Error(`the offer's videoLayout "${videoLayout}" is neither gstreamer nor web`);
  // The clear bytes of the GStreamer peer's VP8 (rtpvp8pay's or, through rtpvp8e2eepay, the web's).
  state.peerVideoLayout = videoLayout;
  log(`offer received (GStreamer's VP8 layout: ${videoLayout})`);
  await state.pc.setRemoteDescription({ type: 'offer', sdp });
  // Transforms before the answer, so that no frame is sent or received untransformed, and
  // before any other await: Chromium lets frames bypass a transform attached later (ontrack
  // has attached them already for the m-lines the peer sends on).
  for (const transceiver of state.pc.getTransceivers()) attachTransforms(transceiver, transceiver.receiver.track.kind);
  for (const transceiver of state.pc.getTransceivers()) {
    const kind = transceiver.receiver.track.kind;
    const track = state.localStream.getTracks().find((t) => t.kind === kind);
    await transceiver.sender.replaceTrack(track ?? null);
    transceiver.sender.setStreams?.(state.localStream);
    transceiver.direction = 'sendrecv';
    preferHandledCodec(transceiver, kind, sdp);
  }
  await flushCandidates();
  const answer = await state.pc.createAnswer();
  checkAnswerCodecs(answer.sdp);
  await state.pc.setLocalDescription(answer);
  send({ type: 'answer', sdp: state.pc.localDescription.sdp });
  log('answer sent');
  showStatus('answer sent, connecting…');
}

async function addRemoteCandidate({ candidate, sdpMLineIndex }) {
  if (!candidate) return; // end of candidates
  const init = { candidate, sdpMLineIndex: sdpMLineIndex ?? 0 };
  if (!state.pc?.remoteDescription) {
    state.pendingCandidates.push(init);
    return;
  }
  await state.pc.addIceCandidate(init).catch((error) => log(`ICE candidate refused: ${error.message} (${candidate})`, 'error'));
}

async function flushCandidates() {
  for (const init of state.pendingCandidates.splice(0)) await addRemoteCandidate(init);
}

/** Codec names of the `kind` m-line of `sdp`, in the m-line's (preference) order. */
function codecsOf(sdp, kind) {
  const sections = sdp.split(/\r?\n(?=m=)/);
  const section = sections.find((s) => s.startsWith(`m=${kind} `));
  if (!section) return [];
  const payloadTypes = section.split(/\r?\n/)[0].split(' ').slice(3);
  const names = new Map([...section.matchAll(/^a=rtpmap:(\d+) ([^/\s]+)/gm)].map((m) => [m[1], m[2]]));
  return payloadTypes.map((pt) => names.get(pt) ?? `pt ${pt}`);
}

const HANDLED_CODEC = { video: 'VP8', audio: 'opus' };
const HELPER_CODECS = ['rtx', 'red', 'ulpfec', 'flexfec-03', 'cn', 'telephone-event'];

/** The frame format knows VP8 and Opus only. The GStreamer peer offers just those; if an offer
 *  ever has more, restrict the answer to them. */
function preferHandledCodec(transceiver, kind, offerSdp) {
  const wanted = HANDLED_CODEC[kind].toLowerCase();
  const media = codecsOf(offerSdp, kind).filter((name) => !HELPER_CODECS.includes(name.toLowerCase()));
  if (media.every((name) => name.toLowerCase() === wanted)) return;
  if (typeof transceiver.setCodecPreferences !== 'function') {
    log(`the offer's ${kind} has ${media.join(', ')} and this browser cannot prefer ${HANDLED_CODEC[kind]}`, 'error');
    return;
  }
  const codecs = RTCRtpReceiver.getCapabilities(kind).codecs;
  const preferred = codecs.filter((c) => c.mimeType.toLowerCase() === `${kind}/${wanted}`);
  const rtx = codecs.filter((c) => c.mimeType.toLowerCase() === `${kind}/rtx`);
  transceiver.setCodecPreferences([...preferred, ...rtx]);
  log(`the offer's ${kind} lists ${media.join(', ')}: answering with ${HANDLED_CODEC[kind]} only`);
}

function checkAnswerCodecs(sdp) {
  for (const kind of KINDS) {
    const first = codecsOf(sdp, kind)[0];
    if (first === undefined) {
      log(`the answer has no ${kind} m-line`, 'error');
    } else if (first.toLowerCase() !== HANDLED_CODEC[kind].toLowerCase()) {
      log(`the answer's ${kind} codec is ${first}, but the frame format handles ${HANDLED_CODEC[kind]} only`, 'error');
    } else {
      log(`${kind}: ${first}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Transforms

/** Initial keys travel in the options: the worker has them before the first frame. */
function transformOptions(side, kind) {
  const options = { side, kind, mode: state.mode, suite: state.suite };
  // What the GStreamer peer's VP8 leaves clear (the page's own senders use the web layout).
  if (side === 'receive' && kind === 'video') options.layout = state.peerVideoLayout;
  if (state.mode === 'livekit') return { ...options, passphrase: state.passphrase, keyIndex: 0 };
  if (state.mode !== 'sframe') return options;
  if (side === 'send') {
    options.sendKey = { keyId: keyIdOf(state.generation, kind, 'browser'), keyHex: state.keyHex };
  } else {
    options.receiveKeys = [...state.receiveGenerations].map(([generation, keyHex]) => ({ keyId: keyIdOf(generation, kind, 'gstreamer'), keyHex }));
  }
  return options;
}

function attachTransforms(transceiver, kind) {
  if (state.transformsAttached.has(transceiver)) return;
  state.transformsAttached.add(transceiver);
  attachTransform(transceiver.sender, transformOptions('send', kind));
  attachTransform(transceiver.receiver, transformOptions('receive', kind));
  const keys = state.mode === 'sframe'
    ? ` (send KID ${keyIdOf(state.generation, kind, 'browser')}, receive KID ${keyIdOf(state.generation, kind, 'gstreamer')})`
    : state.mode === 'livekit' ? ' (key index 0 from the passphrase)' : '';
  log(`${kind} transforms attached: ${state.mode} via ${state.api}${keys}`);
}

function attachTransform(senderOrReceiver, options) {
  if (state.api === 'script-transform') {
    senderOrReceiver.transform = new RTCRtpScriptTransform(state.worker, options);
    return;
  }
  const { readable, writable } = senderOrReceiver.createEncodedStreams();
  state.worker.postMessage({ type: 'streams', readable, writable, options }, [readable, writable]);
}

// ---------------------------------------------------------------------------------------------
// Key rotation: receivers learn the new key first, the server (GStreamer) switches, and only
// then the page's senders switch; the old receive keys go 10 s later. Nothing is undecodable
// at any point.

/** The keys of the GStreamer peer's senders in `generation`, each for the receiver of its kind. */
function receiveKeysOf(generation, keyHex) {
  return KINDS.map((kind) => ({ keyId: keyIdOf(generation, kind, 'gstreamer'), keyHex, kind }));
}

function rotateKey() {
  if (state.mode === 'livekit') return ratchetSendKeys({ askServer: true });
  if (state.mode !== 'sframe') return log('key rotation: negate mode has no keys', 'error');
  if (!state.worker || !state.pc?.remoteDescription) return log('key rotation: no call yet', 'error');
  if (state.pendingRotation) return log(`key rotation: generation ${state.pendingRotation.generation} is still waiting for the server`, 'error');
  const generation = state.generation + 1;
  const keyHex = bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
  state.pendingRotation = { generation, keyHex };
  state.receiveGenerations.set(generation, keyHex);
  state.worker.postMessage({ type: 'add-receive-keys', keys: receiveKeysOf(generation, keyHex) });
  log(`key rotation to generation ${generation}: receivers hold KIDs ${receiveKeysOf(generation).map((k) => k.keyId).join(', ')}; asking the server`);
  send({ type: 'rotate-key', generation, key: keyHex });
  render();
}

function keyRotated(generation) {
  const pending = state.pendingRotation;
  if (!pending || pending.generation !== generation) {
    log(`key-rotated for generation ${generation}, but ${pending ? `generation ${pending.generation}` : 'no rotation'} is pending`, 'error');
    return;
  }
  const old = state.generation;
  state.pendingRotation = null;
  state.generation = generation;
  state.keyHex = pending.keyHex;
  for (const kind of KINDS) {
    state.worker.postMessage({ type: 'set-send-key', kind, keyId: keyIdOf(generation, kind, 'browser'), keyHex: pending.keyHex });
  }
  ui.key.value = pending.keyHex;
  log(`key generation ${generation}: sending with KIDs ${keyIdOf(generation, 'video', 'browser')} (video), ${keyIdOf(generation, 'audio', 'browser')} (audio)`);
  showStatus(`key generation ${generation}`);
  setTimeout(() => dropReceiveGeneration(old), OLD_KEYS_KEPT_MS);
  render();
}

/** LiveKit: the page's senders ratchet their key (index 0) one step; the GStreamer receivers
 *  follow through their ratchet windows. `askServer`: the GStreamer senders ratchet too (the
 *  button), and the page's receivers follow them. */
function ratchetSendKeys({ askServer }) {
  if (!state.worker || !state.pc?.remoteDescription) return log('ratchet: no call yet', 'error');
  state.ratchetPending = true;
  state.worker.postMessage({ type: 'ratchet-send-keys' });
  if (askServer) send({ type: 'ratchet-key' });
  log(`ratcheting the page's send keys${askServer ? ' and asking the GStreamer peer to ratchet its own' : ''}`);
  render();
}

function sendKeysRatcheted(senders) {
  state.ratchetPending = false;
  send({ type: 'key-ratcheted', senders });
  log(`the page's ${senders} senders ratcheted their key`);
  render();
}

/** The senders keep the old key. The receivers keep the new one too: an extra receive key
 *  costs nothing, and a peer that switched part-way before failing stays decodable. A retry
 *  of the same generation replaces it. */
function rotationFailed(text) {
  const { generation } = state.pendingRotation;
  state.pendingRotation = null;
  log(`key rotation to generation ${generation} failed (${text}); still sending with generation ${state.generation}`, 'error');
  render();
}

function dropReceiveGeneration(generation) {
  if (generation === state.generation || !state.receiveGenerations.delete(generation)) return;
  for (const { keyId } of receiveKeysOf(generation)) state.worker.postMessage({ type: 'remove-receive-key', keyId });
  log(`receivers dropped generation ${generation}`);
  render();
}

// ---------------------------------------------------------------------------------------------
// Figures

function workerStats(transforms) {
  for (const t of transforms) {
    const id = `${t.side} ${t.kind}`;
    state.workerStats.set(id, t);
    // Periods of the worker and of the report differ: keep every KID until the next report.
    const used = state.usedKeyIds.get(id) ?? new Set();
    for (const kid of t.keyIds) used.add(kid);
    state.usedKeyIds.set(id, used);
  }
}

/** The transform fields of the `stats` message, exactly as the protocol lists them. */
function transformFigures(side, kind) {
  const id = `${side} ${kind}`;
  const t = state.workerStats.get(id);
  const failures = t?.failures ?? {};
  const used = [...(state.usedKeyIds.get(id) ?? [])].sort((a, b) => a - b);
  return {
    frames: t?.frames ?? 0,
    encrypted: t?.encrypted ?? 0,
    decrypted: t?.decrypted ?? 0,
    failed: ['authentication', 'keyID', 'syntax', 'replay', 'noKey', 'keyInvalidated'].reduce((sum, name) => sum + (failures[name] ?? 0), 0),
    authentication: failures.authentication ?? 0,
    keyID: failures.keyID ?? 0,
    syntax: failures.syntax ?? 0,
    replay: failures.replay ?? 0,
    noKey: failures.noKey ?? 0,
    keyInvalidated: failures.keyInvalidated ?? 0,
    ratchets: t?.ratchets ?? 0,
    keyIds: side === 'send' ? (t?.keyIds ?? []) : used,
    keyId: t?.keyId ?? null,
    keyFrames: t?.keyFrames ?? 0,
  };
}

const RTP_FIELDS = {
  'inbound-rtp video': ['framesDecoded', 'framesReceived', 'keyFramesDecoded', 'frameWidth', 'frameHeight'],
  'inbound-rtp audio': ['totalSamplesReceived', 'concealedSamples', 'packetsReceived'],
  'outbound-rtp video': ['framesEncoded'],
  'outbound-rtp audio': ['packetsSent'],
};

async function collectRtpStats(pc) {
  const figures = Object.fromEntries(Object.entries(RTP_FIELDS).map(([id, fields]) => [id, Object.fromEntries(fields.map((f) => [f, 0]))]));
  (await pc.getStats()).forEach((report) => {
    const id = `${report.type} ${report.kind ?? report.mediaType}`;
    if (!figures[id]) return;
    for (const field of RTP_FIELDS[id]) if (typeof report[field] === 'number') figures[id][field] += report[field];
  });
  return figures;
}

async function reportStats() {
  if (!state.pc) return;
  state.rtpStats = await collectRtpStats(state.pc);
  const message = { type: 'stats', generation: state.generation, connectionState: state.pc.connectionState };
  for (const kind of KINDS) {
    message[kind] = {
      send: { ...transformFigures('send', kind), ...state.rtpStats[`outbound-rtp ${kind}`] },
      receive: { ...transformFigures('receive', kind), ...state.rtpStats[`inbound-rtp ${kind}`] },
    };
  }
  state.usedKeyIds.clear();
  state.lastReport = message;
  send(message);
  render();
}

// ---------------------------------------------------------------------------------------------
// Display

const cell = (text, className) => Object.assign(document.createElement('td'), { textContent: text ?? '', className: className ?? '' });
const formatList = (list) => (list?.length ? list.join(', ') : '–');
const formatFields = (object) => Object.entries(object ?? {})
  .filter(([, value]) => typeof value === 'number')
  .map(([name, value]) => `${name} ${value}`).join(' · ');

/** The first of `names` present in a peer-stats entry (the server names fields by path). */
function peerFigure(entry, ...names) {
  for (const name of names) if (typeof entry?.[name] === 'number') return entry[name];
  return undefined;
}

function render() {
  renderSummary();
  renderTable();
  ui.rotate.textContent = state.mode === 'livekit' ? 'Ratchet keys' : 'Rotate key';
  ui.rotate.disabled = !((state.mode === 'sframe' || state.mode === 'livekit') && state.pc?.connectionState === 'connected'
    && !state.pendingRotation && !state.ratchetPending);
}

function renderSummary() {
  const lines = [];
  lines.push(`mode ${state.mode}${state.mode === 'sframe' ? `, suite ${state.suite}` : ''} · ${state.api ?? 'no transform API yet'} · connection ${state.pc?.connectionState ?? '–'}`);
  if (state.mode === 'livekit') {
    const figure = (side, kind, name) => state.lastReport?.[kind][side][name] ?? 0;
    lines.push(`LiveKit format, key index 0 from the passphrase: send-key ratchets ${figure('send', 'video', 'ratchets')} video / ${figure('send', 'audio', 'ratchets')} audio; receivers followed ${figure('receive', 'video', 'ratchets')} / ${figure('receive', 'audio', 'ratchets')} steps`);
  }
  if (state.mode === 'sframe') {
    const g = state.generation;
    lines.push(`key generation ${g}${state.pendingRotation ? ` (rotating to ${state.pendingRotation.generation})` : ''}: sending KIDs ${keyIdOf(g, 'video', 'browser')} video / ${keyIdOf(g, 'audio', 'browser')} audio; receivers hold KIDs ${formatList([...state.receiveGenerations.keys()].flatMap((gen) => receiveKeysOf(gen).map((k) => k.keyId)))}`);
  }
  const report = state.lastReport;
  for (const kind of KINDS) {
    const send = report?.[kind].send, receive = report?.[kind].receive;
    const decoded = kind === 'video'
      ? `frames decoded ${receive?.framesDecoded ?? 0} (${receive?.frameWidth ?? 0}×${receive?.frameHeight ?? 0})`
      : `samples received ${receive?.totalSamplesReceived ?? 0} (concealed ${receive?.concealedSamples ?? 0})`;
    lines.push(`browser ${kind}: encrypted ${send?.encrypted ?? 0} · decrypted ${receive?.decrypted ?? 0} · authentication failures ${receive?.authentication ?? 0} · ${decoded}`);
    const peer = state.peerStats?.[kind];
    if (peer) {
      lines.push(`GStreamer ${kind}: encrypted ${peerFigure(peer, 'encrypted', 'send-encrypted') ?? '–'} · decrypted ${peerFigure(peer, 'decrypted', 'receive-decrypted') ?? '–'} · authentication failures ${peerFigure(peer, 'authentication', 'receive-authentication') ?? '–'} · frames decoded ${peerFigure(peer, 'framesDecoded', 'receive-framesDecoded') ?? '–'}`);
    }
  }
  ui.summary.replaceChildren(...lines.map((text) => Object.assign(document.createElement('div'), { textContent: text })));
}

function renderTable() {
  const rows = [];
  for (const kind of KINDS) {
    for (const side of SIDES) {
      const figures = state.lastReport?.[kind][side] ?? transformFigures(side, kind);
      const t = state.workerStats.get(`${side} ${kind}`);
      const rtp = state.rtpStats?.[`${side === 'send' ? 'outbound' : 'inbound'}-rtp ${kind}`];
      const kids = side === 'send' ? formatList(figures.keyIds) : `${formatList(figures.keyIds)} (held ${formatList(t?.keyIdsHeld)})`;
      rows.push([`browser ${kind} ${side}`, figures.frames, side === 'send' ? figures.encrypted : figures.decrypted,
        figures.authentication, figures.keyID, figures.syntax, figures.replay, figures.noKey, kids, figures.keyFrames,
        `${state.mode === 'livekit' ? `key invalidated ${figures.keyInvalidated} · ratchets ${figures.ratchets} · ` : ''}`
          + `${t ? `bytes ${t.bytesIn} → ${t.bytesOut} · ` : ''}${formatFields(rtp)}`]);
    }
  }
  for (const kind of KINDS) {
    const peer = state.peerStats?.[kind];
    rows.push([`GStreamer ${kind}`, '', '', '', '', '', '', '', '', '', peer ? formatFields(peer) : 'no figures yet']);
  }
  const others = Object.entries(state.peerStats ?? {}).filter(([name, value]) => !KINDS.includes(name) && typeof value === 'number');
  if (others.length) rows.push(['GStreamer', '', '', '', '', '', '', '', '', others.map(([n, v]) => `${n} ${v}`).join(' · ')]);
  ui.statsBody.replaceChildren(...rows.map((values) => {
    const row = document.createElement('tr');
    row.append(...values.map((value, index) => cell(String(value), index === 3 && value > 0 ? 'bad' : '')));
    return row;
  }));
}

// ---------------------------------------------------------------------------------------------
// Page setup

/** The key field shows the SFrame key (hex) or the LiveKit passphrase, by mode. */
function showKeyField(mode) {
  const livekit = mode === 'livekit';
  ui.keyLabel.textContent = livekit ? 'Passphrase (key index 0)' : 'Base key (hex, generation 1)';
  ui.key.value = livekit ? (fragment.get('passphrase') ?? DEFAULT_PASSPHRASE) : (fragment.get('key') ?? DEFAULT_KEY);
  ui.key.type = livekit ? 'password' : 'text';
}

function setUpPage() {
  // ?e2ee=sframe|livekit picks the frame format; ?mode=negate the MDN example.
  const mode = params.get('e2ee') ?? params.get('mode') ?? 'sframe';
  ui.mode.value = MODES.includes(mode) ? mode : 'sframe';
  if (ui.mode.value !== mode) log(`unknown mode "${mode}" in the URL; using sframe`, 'error', { remote: false });
  state.mode = ui.mode.value;
  ui.mode.addEventListener('change', () => {
    state.mode = ui.mode.value;
    showKeyField(state.mode);
    render();
  });
  showKeyField(state.mode);
  ui.suite.textContent = params.get('suite') ?? '4';
  ui.start.addEventListener('click', startCall);
  ui.rotate.addEventListener('click', rotateKey);
  render();
  if (params.get('autostart') === '1') startCall();
}

setUpPage();
