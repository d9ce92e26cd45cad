// Runs the browser page's sframe.js self test under Node 20 (WebCrypto at globalThis.crypto):
// the RFC 9605 vectors, the frame format, the VP8 clear-prefix rules on every frame of
// fixtures/vp8-frames.json and the GStreamer plugin's frames of fixtures/plugin-frames.json.
//
//   node Tests/web/sframe-check.mjs [--vectors FILE] [DIR:PARTITIONS ...]
//
// FILE defaults to ../shared/testdata/sframe-test-vectors.json beside the repository (as the
// Swift vector tests). Each DIR:PARTITIONS is a folder of VP8 frames written by
// `vp8enc token-partitions=PARTITIONS ! multifilesink`, checked frame by frame. Exits 1 on failure.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseJsonLossless, runSelfTest } from '../../Sources/BrowserCall/Web/selftest.js';
import { bytesToHex, isVP8KeyFrame, vp8FirstPartitionSize } from '../../Sources/BrowserCall/Web/sframe.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let vectorsPath = resolve(here, '../../../shared/testdata/sframe-test-vectors.json');
const frameDirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--vectors') vectorsPath = resolve(args[++i]);
  else frameDirs.push(args[i]);
}

const readJson = (path) => parseJsonLossless(readFileSync(path, 'utf8'));

/** Frames of a multifilesink folder as fixtures; the expected prefix is computed here from the
 *  encoder's partition count, not by sframe.js. */
function framesOfFolder(spec) {
  const [dir, partitionText] = spec.split(':');
  const partitions = Number(partitionText);
  if (![1, 2, 4, 8].includes(partitions)) throw new Error(`${spec}: give DIR:PARTITIONS with 1, 2, 4 or 8`);
  return readdirSync(dir).sort().map((name) => {
    const bytes = new Uint8Array(readFileSync(join(dir, name)));
    const key = isVP8KeyFrame(bytes);
    const header = key ? 10 : 3;
    return {
      name: join(dir, name), keyFrame: key, partitions, hex: bytesToHex(bytes),
      clear: {
        web: Math.min(header, bytes.length),
        gstreamer: Math.min(header + vp8FirstPartitionSize(bytes) + 3 * (partitions - 1), bytes.length),
      },
    };
  });
}

let vectors = null;
let vectorsError;
try {
  vectors = readJson(vectorsPath);
} catch (error) {
  vectorsError = `${vectorsPath}: ${error.message}`;
}
const vp8Frames = readJson(join(here, 'fixtures/vp8-frames.json')).frames;
const pluginFrames = readJson(join(here, 'fixtures/plugin-frames.json')).frames;
for (const spec of frameDirs) vp8Frames.push(...framesOfFolder(spec));

const result = await runSelfTest({ vectors, vectorsError, vp8Frames, pluginFrames });
for (const [group, counts] of Object.entries(result.groups)) {
  console.log(`${group.padEnd(26)} ${String(counts.passed).padStart(4)} passed ${String(counts.failed).padStart(4)} failed`);
}
const byPartitions = {};
for (const f of vp8Frames) {
  const entry = (byPartitions[f.partitions] ??= { key: 0, delta: 0 });
  entry[f.keyFrame ? 'key' : 'delta']++;
}
console.log(`VP8 frames by partition count: ${Object.entries(byPartitions).map(([p, n]) => `${p}: ${n.key} key + ${n.delta} delta`).join(', ')}`);
for (const failure of result.failures) console.error(`FAILED ${failure}`);
console.log(`${result.failed === 0 ? 'PASS' : 'FAIL'}: ${result.passed} passed, ${result.failed} failed`);
process.exit(result.failed === 0 ? 0 : 1);
