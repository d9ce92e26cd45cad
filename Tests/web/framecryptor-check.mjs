// Runs the page's framecryptor.js self test (LiveKit's frame format) under Node 20 (WebCrypto
// at globalThis.crypto): the published key-derivation and ratchet-chain vectors, the frame
// format, H.264 escaping, the ratchet window and failure tolerance.
//
//   node Tests/web/framecryptor-check.mjs [--vectors FILE]
//
// FILE defaults to ../shared/testdata/livekit-e2ee-vectors.json beside the repository. Exits 1
// on failure.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFrameCryptorSelfTest } from '../../Sources/BrowserCall/Web/framecryptor-selftest.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let vectorsPath = resolve(here, '../../../shared/testdata/livekit-e2ee-vectors.json');
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--vectors') vectorsPath = resolve(args[++i]);
  else throw new Error(`unknown argument ${args[i]} (only --vectors FILE)`);
}

let vectors = null;
let vectorsError;
try {
  vectors = JSON.parse(readFileSync(vectorsPath, 'utf8'));
} catch (error) {
  vectorsError = `${vectorsPath}: ${error.message}`;
}

const started = performance.now();
const result = await runFrameCryptorSelfTest({ vectors, vectorsError });
for (const [group, counts] of Object.entries(result.groups)) {
  console.log(`${group.padEnd(26)} ${String(counts.passed).padStart(4)} passed ${String(counts.failed).padStart(4)} failed`);
}
for (const failure of result.failures) console.error(`FAILED ${failure}`);
console.log(`${result.failed === 0 ? 'PASS' : 'FAIL'}: ${result.passed} passed, ${result.failed} failed (${((performance.now() - started) / 1000).toFixed(1)} s)`);
process.exit(result.failed === 0 ? 0 : 1);
