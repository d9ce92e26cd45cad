#!/usr/bin/python3
"""SFrame (RFC 9605) in pure Python on Debian's python3-cryptography, byte for byte as the
plugin's built-in `sframe` encoded transform (Sources/SFrame/, Sources/BuiltinTransforms/
Encoded/SFrame/), so that a `transform-frame` handler in Python can encrypt frames the plugin
decrypts and the reverse.

What is implemented:

* the header (section 4.3): config byte `X KKK Y CCC`, then the key id and the counter when
  they do not fit in 3 bits, big-endian in the fewest bytes;
* the key schedule (section 4.4.2): `secret = HKDF-Extract("", base_key)`,
  `key = HKDF-Expand(secret, "SFrame 1.0 Secret key " || KID (8 bytes BE) || suite (2 bytes BE), Nk)`,
  `salt` likewise with "SFrame 1.0 Secret salt ", Nn bytes (SHA-256 for suites 1-4, SHA-512 for 5-8);
* the AEADs (section 4.5): AES-GCM (0x0004 AES_128_GCM_SHA256_128, 0x0005 AES_256_GCM_SHA512_128)
  and AES-CTR + truncated HMAC (0x0001-0x0003, 0x0006-0x0008; initial counter block
  nonce || 0x00000000, tag = HMAC(auth_key, len(aad) || len(ct) || Nt || nonce || aad || ct)
  truncated to Nt, the three lengths 8 bytes big-endian);
* nonce = salt XOR counter (the counter left-padded to Nn bytes); AAD = header || metadata;
* a sender whose counter starts at the wall clock in microseconds (as the plugin's, so a
  restarted sender with a static key neither reuses nonces nor falls behind replay windows) and
  a receiver with several keys and a 64-frame replay window per key id (checked after
  authentication).

The plugin's frame layout (`ClearBytesPolicy.gstreamer`): a frame becomes
`clear prefix || SFrame header || ciphertext || tag`, and the clear prefix is SFrame's metadata
(authenticated, not sent twice): AAD = header || clear prefix. For Opus the clear prefix is the
TOC byte (the first byte; an empty frame has none). `clear="none"` (the plugin's `clear=none`)
encrypts everything. Other codecs' layouts (VP8 partitions, H.264 escaping) are not implemented
here: `frame_clear_count` refuses them.

Run `python3 sframe.py` to check this module against the RFC 9605 test vectors
(/work/shared/testdata or Sources/SFrame/ of this repository).
"""
import hmac
import hashlib
import json
import os
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.exceptions import InvalidTag


class SFrameError(Exception):
    """A refused frame or operation; `kind` as the plugin's `sframe-error` messages name it:
    syntax, keyID, authentication, replay, no-key, counter-exhausted, other."""

    def __init__(self, kind, reason):
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


class CipherSuite:
    def __init__(self, value, name, gcm, aes_key_bytes, sha512, tag_bytes):
        self.value = value
        self.name = name
        self.gcm = gcm
        self.aes_key_bytes = aes_key_bytes
        self.sha512 = sha512
        self.tag_bytes = tag_bytes            # Nt
        self.nonce_bytes = 12                 # Nn
        # Nk: the AEAD key; for CTR+HMAC the AES key followed by the HMAC key.
        self.key_bytes = aes_key_bytes if gcm else aes_key_bytes + (64 if sha512 else 32)

    def hash(self):
        return hashes.SHA512() if self.sha512 else hashes.SHA256()

    def __repr__(self):
        return f"{self.name} (0x{self.value:04x})"


SUITES = {suite.value: suite for suite in [
    CipherSuite(0x0001, "AES_128_CTR_HMAC_SHA256_80", False, 16, False, 10),
    CipherSuite(0x0002, "AES_128_CTR_HMAC_SHA256_64", False, 16, False, 8),
    CipherSuite(0x0003, "AES_128_CTR_HMAC_SHA256_32", False, 16, False, 4),
    CipherSuite(0x0004, "AES_128_GCM_SHA256_128", True, 16, False, 16),
    CipherSuite(0x0005, "AES_256_GCM_SHA512_128", True, 32, True, 16),
    CipherSuite(0x0006, "AES_256_CTR_HMAC_SHA512_80", False, 32, True, 10),
    CipherSuite(0x0007, "AES_256_CTR_HMAC_SHA512_64", False, 32, True, 8),
    CipherSuite(0x0008, "AES_256_CTR_HMAC_SHA512_32", False, 32, True, 4),
]}
DEFAULT_SUITE = SUITES[0x0004]
MINIMUM_BASE_KEY_BYTES = 16   # the plugin refuses shorter base keys


def suite_named(name_or_number):
    """A suite by registry name (`AES_128_GCM_SHA256_128`) or number (4, "0x0004")."""
    if isinstance(name_or_number, CipherSuite):
        return name_or_number
    if isinstance(name_or_number, int):
        return SUITES[name_or_number]
    for suite in SUITES.values():
        if suite.name == name_or_number.upper():
            return suite
    return SUITES[int(name_or_number, 0)]


# ---------------------------------------------------------------------------------------------
# Header

def _minimum_bytes(value):
    return max(1, (value.bit_length() + 7) // 8)


def encode_header(key_id, counter):
    """The SFrame header of (key id, counter)."""
    if not (0 <= key_id < 1 << 64 and 0 <= counter < 1 << 64):
        raise SFrameError("other", "key id and counter are 64-bit unsigned integers")
    config = 0
    tail = b""
    if key_id < 8:
        config |= key_id << 4
    else:
        length = _minimum_bytes(key_id)
        config |= 0x80 | (length - 1) << 4
        tail += key_id.to_bytes(length, "big")
    if counter < 8:
        config |= counter
    else:
        length = _minimum_bytes(counter)
        config |= 0x08 | (length - 1)
        tail += counter.to_bytes(length, "big")
    return bytes([config]) + tail


def decode_header(data):
    """(key id, counter, header size) of the header at the start of `data`."""
    if len(data) == 0:
        raise SFrameError("syntax", "empty frame: no SFrame header")
    config = data[0]
    index = 1

    def field(extended, value, name):
        nonlocal index
        if not extended:
            return value
        length = value + 1
        if len(data) - index < length:
            raise SFrameError("syntax", f"header truncated: the {name} needs {length} bytes")
        result = int.from_bytes(bytes(data[index:index + length]), "big")
        index += length
        return result

    key_id = field(config & 0x80, (config >> 4) & 0x07, "key id")
    counter = field(config & 0x08, config & 0x07, "counter")
    return key_id, counter, index


# ---------------------------------------------------------------------------------------------
# Key schedule and AEAD

def _label(prefix, key_id, suite):
    return prefix + key_id.to_bytes(8, "big") + suite.value.to_bytes(2, "big")


def _hkdf(suite, base_key, info, length):
    # HKDF-Extract with an empty salt (RFC 5869 pads it with zeros: the same as salt=None).
    return HKDF(algorithm=suite.hash(), length=length, salt=b"", info=info).derive(bytes(base_key))


class KeyMaterial:
    """The key and salt of one key id under one suite."""

    def __init__(self, suite, key_id, key, salt):
        if len(key) != suite.key_bytes or len(salt) != suite.nonce_bytes:
            raise SFrameError("other", f"{suite} needs a {suite.key_bytes}-byte key and a {suite.nonce_bytes}-byte salt")
        self.suite = suite
        self.key_id = key_id
        self.key = bytes(key)
        self.salt = bytes(salt)
        self._gcm = AESGCM(self.key) if suite.gcm else None

    @classmethod
    def derive(cls, base_key, key_id, suite=DEFAULT_SUITE):
        suite = suite_named(suite)
        if len(base_key) == 0:
            raise SFrameError("other", "the base key is empty")
        key = _hkdf(suite, base_key, _label(b"SFrame 1.0 Secret key ", key_id, suite), suite.key_bytes)
        salt = _hkdf(suite, base_key, _label(b"SFrame 1.0 Secret salt ", key_id, suite), suite.nonce_bytes)
        return cls(suite, key_id, key, salt)

    def nonce(self, counter):
        padded = counter.to_bytes(self.suite.nonce_bytes, "big")
        return bytes(a ^ b for a, b in zip(self.salt, padded))

    def seal(self, nonce, aad, plaintext):
        """ciphertext || tag."""
        return aead_seal(self.suite, self.key, nonce, aad, plaintext, gcm=self._gcm)

    def open(self, nonce, aad, sealed):
        """The plaintext, or SFrameError(authentication)."""
        return aead_open(self.suite, self.key, nonce, aad, sealed, gcm=self._gcm)


def _ctr_hmac_tag(suite, auth_key, nonce, aad, ciphertext):
    digest = hashlib.sha512 if suite.sha512 else hashlib.sha256
    mac = hmac.new(auth_key, digestmod=digest)
    mac.update(len(aad).to_bytes(8, "big") + len(ciphertext).to_bytes(8, "big") + suite.tag_bytes.to_bytes(8, "big"))
    mac.update(nonce)
    mac.update(aad)
    mac.update(ciphertext)
    return mac.digest()[:suite.tag_bytes]


def _ctr(enc_key, nonce, data):
    cipher = Cipher(algorithms.AES(enc_key), modes.CTR(bytes(nonce) + b"\x00\x00\x00\x00"))
    context = cipher.encryptor()
    return context.update(bytes(data)) + context.finalize()


def aead_seal(suite, key, nonce, aad, plaintext, gcm=None):
    suite = suite_named(suite)
    if suite.gcm:
        return (gcm or AESGCM(key)).encrypt(bytes(nonce), bytes(plaintext), bytes(aad))
    enc_key, auth_key = key[:suite.aes_key_bytes], key[suite.aes_key_bytes:]
    ciphertext = _ctr(enc_key, nonce, plaintext)
    return ciphertext + _ctr_hmac_tag(suite, auth_key, nonce, aad, ciphertext)


def aead_open(suite, key, nonce, aad, sealed, gcm=None):
    suite = suite_named(suite)
    if len(sealed) < suite.tag_bytes:
        raise SFrameError("syntax", f"frame shorter than the {suite.tag_bytes}-byte tag")
    if suite.gcm:
        try:
            return (gcm or AESGCM(key)).decrypt(bytes(nonce), bytes(sealed), bytes(aad))
        except InvalidTag:
            raise SFrameError("authentication", "the frame did not authenticate") from None
    enc_key, auth_key = key[:suite.aes_key_bytes], key[suite.aes_key_bytes:]
    split = len(sealed) - suite.tag_bytes
    ciphertext, tag = bytes(sealed[:split]), bytes(sealed[split:])
    if not hmac.compare_digest(_ctr_hmac_tag(suite, auth_key, nonce, aad, ciphertext), tag):
        raise SFrameError("authentication", "the frame did not authenticate")
    return _ctr(enc_key, nonce, ciphertext)


# ---------------------------------------------------------------------------------------------
# Sender and receiver contexts

class Sender:
    """Encrypts under one key at a time. The counter of a key id never used before starts at
    the wall clock in microseconds (`counter_start="clock"`, as the plugin) or 0 (`"zero"`, as
    the RFC's examples: only for keys that are never reused)."""

    def __init__(self, suite=DEFAULT_SUITE, counter_start="clock"):
        self.suite = suite_named(suite)
        self.counter_start = counter_start
        self.material = None
        self.counter = None
        self._resume = {}

    def _start_value(self):
        return int(time.time() * 1_000_000) if self.counter_start == "clock" else 0

    def set_key(self, base_key, key_id):
        if len(base_key) < MINIMUM_BASE_KEY_BYTES:
            raise SFrameError("other", f"the key has {len(base_key)} bytes; SFrame base keys need at least {MINIMUM_BASE_KEY_BYTES}")
        if self.material is not None:
            self._resume[self.material.key_id] = self.counter
        self.material = KeyMaterial.derive(base_key, key_id, self.suite)
        if key_id in self._resume:
            resume = self._resume[key_id]
            self.counter = None if resume is None else max(resume, self._start_value())
        else:
            self.counter = self._start_value()

    @property
    def key_id(self):
        return None if self.material is None else self.material.key_id

    def protect(self, plaintext, metadata=b""):
        """header || ciphertext || tag; `metadata` is authenticated, not included."""
        if self.material is None:
            raise SFrameError("no-key", "no encryption key set")
        if self.counter is None:
            raise SFrameError("counter-exhausted", f"the counter of key id {self.material.key_id} is exhausted")
        counter = self.counter
        header = encode_header(self.material.key_id, counter)
        sealed = self.material.seal(self.material.nonce(counter), header + bytes(metadata), plaintext)
        self.counter = None if counter == (1 << 64) - 1 else counter + 1
        return header + sealed


class _ReplayWindow:
    WIDTH = 64

    def __init__(self):
        self.newest = None
        self.seen = 0

    def admits(self, counter):
        if self.newest is None or counter > self.newest:
            return True
        age = self.newest - counter
        return age < self.WIDTH and not (self.seen >> age) & 1

    def record(self, counter):
        if self.newest is None:
            self.newest, self.seen = counter, 1
        elif counter > self.newest:
            shift = counter - self.newest
            self.seen = 1 if shift >= self.WIDTH else ((self.seen << shift) | 1) & ((1 << self.WIDTH) - 1)
            self.newest = counter
        else:
            self.seen |= 1 << (self.newest - counter)


class Receiver:
    """Decrypts with the key of the frame's key id; refuses replays (after authentication)."""

    def __init__(self, suite=DEFAULT_SUITE, detect_replays=True):
        self.suite = suite_named(suite)
        self.detect_replays = detect_replays
        self._keys = {}

    def add_key(self, base_key, key_id):
        if len(base_key) < MINIMUM_BASE_KEY_BYTES:
            raise SFrameError("other", f"the key has {len(base_key)} bytes; SFrame base keys need at least {MINIMUM_BASE_KEY_BYTES}")
        material = KeyMaterial.derive(base_key, key_id, self.suite)
        existing = self._keys.get(key_id)
        if existing and existing[0].key == material.key and existing[0].salt == material.salt:
            return
        self._keys[key_id] = (material, _ReplayWindow())

    def remove_key(self, key_id):
        return self._keys.pop(key_id, None) is not None

    @property
    def key_ids(self):
        return sorted(self._keys)

    def unprotect(self, frame, metadata=b""):
        """(plaintext, key id, counter) of `frame` (header || ciphertext || tag)."""
        frame = bytes(frame)
        key_id, counter, header_size = decode_header(frame)
        entry = self._keys.get(key_id)
        if entry is None:
            raise SFrameError("keyID", f"no key for key id {key_id}")
        material, window = entry
        sealed = frame[header_size:]
        if len(sealed) < material.suite.tag_bytes:
            raise SFrameError("syntax", f"frame of {len(frame)} bytes is shorter than its header and {material.suite.tag_bytes}-byte tag")
        plaintext = material.open(material.nonce(counter), frame[:header_size] + bytes(metadata), sealed)
        if self.detect_replays:
            if not window.admits(counter):
                raise SFrameError("replay", f"counter {counter} of key id {key_id} was already accepted or is older than the replay window")
            window.record(counter)
        return plaintext, key_id, counter


# ---------------------------------------------------------------------------------------------
# The plugin's frame layout

def frame_clear_count(frame, mime_type, clear="gstreamer"):
    """How many leading bytes of an encoded frame stay clear (the plugin's ClearBytesPolicy)."""
    if clear == "none":
        return 0
    if mime_type.lower() == "audio/opus":
        return min(1, len(frame))   # the TOC byte
    raise SFrameError("other", f"this module implements the clear layout of Opus only (and clear='none'), not {mime_type}")


def protect_frame(sender, frame, mime_type="audio/opus", clear="gstreamer"):
    """clear prefix || SFrame(header || ciphertext || tag), the prefix authenticated."""
    frame = bytes(frame)
    count = frame_clear_count(frame, mime_type, clear)
    prefix = frame[:count]
    return prefix + sender.protect(frame[count:], metadata=prefix)


def unprotect_frame(receiver, frame, mime_type="audio/opus", clear="gstreamer"):
    """The encoder's frame back (clear prefix || plaintext), or SFrameError."""
    frame = bytes(frame)
    count = frame_clear_count(frame, mime_type, clear)
    if count >= len(frame):
        raise SFrameError("syntax", f"a {len(frame)}-byte {mime_type} frame has no SFrame payload after its {count} clear bytes")
    prefix = frame[:count]
    plaintext, _, _ = receiver.unprotect(frame[count:], metadata=prefix)
    return prefix + plaintext


def parse_hex_key(text):
    """A base key from hexadecimal (at least 16 bytes); the error never echoes the key."""
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise SFrameError("other", "the key is not hexadecimal (an even number of 0-9, a-f)") from None
    if len(key) < MINIMUM_BASE_KEY_BYTES:
        raise SFrameError("other", f"the key has {len(key)} bytes; SFrame base keys need at least {MINIMUM_BASE_KEY_BYTES} ({2 * MINIMUM_BASE_KEY_BYTES} hexadecimal digits)")
    return key


# ---------------------------------------------------------------------------------------------
# RFC 9605 test vectors

def _vector_files():
    here = os.path.dirname(os.path.abspath(__file__))
    for directory in ["/work/shared/testdata", os.path.join(here, "..", "..", "Sources", "SFrame")]:
        main = os.path.join(directory, "sframe-test-vectors.json")
        if os.path.exists(main):
            return [main] + [path for path in [os.path.join(directory, "sframe-test-vectors-aes256.json")] if os.path.exists(path)]
    return []


def check_test_vectors(paths=None):
    """Checks headers, AEADs and whole SFrame encryptions against RFC 9605's vectors; returns
    the number of vectors checked (raises AssertionError on a mismatch)."""
    paths = paths or _vector_files()
    if not paths:
        raise FileNotFoundError("sframe-test-vectors.json not found")
    checked = 0
    for path in paths:
        with open(path) as handle:
            vectors = json.load(handle)
        for vector in vectors.get("header", []):
            encoded = bytes.fromhex(vector["encoded"])
            assert encode_header(vector["kid"], vector["ctr"]) == encoded, vector
            assert decode_header(encoded) == (vector["kid"], vector["ctr"], len(encoded)), vector
            checked += 1
        for name in ["aes_ctr_hmac", "aes_256_ctr_hmac"]:
            for vector in vectors.get(name, []):
                suite = SUITES[vector["cipher_suite"]]
                key, nonce, aad = (bytes.fromhex(vector[field]) for field in ["key", "nonce", "aad"])
                pt, ct = bytes.fromhex(vector["pt"]), bytes.fromhex(vector["ct"])
                assert aead_seal(suite, key, nonce, aad, pt) == ct, (name, vector["cipher_suite"])
                assert aead_open(suite, key, nonce, aad, ct) == pt
                checked += 1
        for name in ["sframe", "sframe_aes_256_ctr_hmac"]:
            for vector in vectors.get(name, []):
                suite = SUITES[vector["cipher_suite"]]
                base_key = bytes.fromhex(vector["base_key"])
                material = KeyMaterial.derive(base_key, vector["kid"], suite)
                assert material.key.hex() == vector["sframe_key"], (name, suite)
                assert material.salt.hex() == vector["sframe_salt"], (name, suite)
                assert material.nonce(vector["ctr"]).hex() == vector["nonce"], (name, suite)
                header = encode_header(vector["kid"], vector["ctr"])
                metadata = bytes.fromhex(vector["metadata"])
                assert (header + metadata).hex() == vector["aad"], (name, suite)
                sender = Sender(suite, counter_start="zero")
                sender.set_key(base_key, vector["kid"])
                sender.counter = vector["ctr"]
                ct = sender.protect(bytes.fromhex(vector["pt"]), metadata)
                assert ct.hex() == vector["ct"], (name, suite)
                receiver = Receiver(suite)
                receiver.add_key(base_key, vector["kid"])
                assert receiver.unprotect(ct, metadata)[0].hex() == vector["pt"]
                checked += 1
    return checked


if __name__ == "__main__":
    count = check_test_vectors(sys.argv[1:] or None)
    print(f"sframe.py: {count} RFC 9605 test vectors OK")
