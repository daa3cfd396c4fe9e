// Conversation content (docs/PROTOCOL.md 28) read and written from the document alone:
// every vector of tests/vectors/v2/content.json parses and re-encodes to the same bytes,
// every fail_ content is MALFORMED. No crypto here; it checks that the section is precise
// enough for another implementation to agree byte for byte.

import { Reader, assert, cat, check, dec, fail, hex, summary, u8, unhex, utf8, vectors } from "./common.mjs";

const MAX_CONTENT = 1_000_000;
const u32 = (n) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
const var32 = (b) => cat(u32(b.length), b);
const text = (b) => {
  try {
    return dec.decode(b);
  } catch {
    return fail("MALFORMED");
  }
};
const expiry = (s) => (s >= 5 && s <= 31_536_000 ? s : fail("MALFORMED"));
const BIDI = /[\u202A-\u202E\u2066-\u2069\u200E\u200F]/u;
const CONTROL = /\p{Cc}/u;

/** Parses a content of `type` into a plain object (28.1, 28.2). */
function parse(type, bytes) {
  const r = new Reader(bytes);
  let v;
  switch (type) {
    case 0: return { kind: "text", text: text(bytes) };
    case 1: return { kind: "bytes", bytes };
    case 2: return { kind: "file", manifest: bytes };
    case 3: {
      const flags = r.u8();
      if (flags === 0 || flags & ~3) fail("MALFORMED");
      v = { kind: "post" };
      if (flags & 1) v.replyTo = r.bytes(16);
      if (flags & 2) v.expiresIn = expiry(r.u32());
      const bodyType = r.u8();
      const body = r.var32(MAX_CONTENT);
      if (bodyType === 0) v.text = text(body);
      else if (bodyType === 2) v.manifest = body;
      else fail("MALFORMED");
      break;
    }
    case 4:
      v = { kind: "edit", target: r.bytes(16), text: text(r.var32(MAX_CONTENT)) };
      if (v.text === "") fail("MALFORMED");
      break;
    case 5: v = { kind: "delete", target: r.bytes(16) }; break;
    case 6:
      v = { kind: "reaction", target: r.bytes(16), emoji: text(r.var8(32)) };
      if (BIDI.test(v.emoji) || CONTROL.test(v.emoji)) fail("MALFORMED");
      break;
    case 7: {
      const n = r.u16();
      if (n < 1 || n > 512 || n * 16 > r.remaining) fail("MALFORMED");
      v = { kind: "read", targets: Array.from({ length: n }, () => r.bytes(16)) };
      break;
    }
    case 8: {
      const b = r.u8();
      if (b > 1) fail("MALFORMED");
      v = { kind: "typing", active: b === 1 };
      break;
    }
    case 9: {
      const s = r.u32();
      v = { kind: "timer", expiresIn: s === 0 ? null : expiry(s) };
      break;
    }
    default: fail("MALFORMED");
  }
  r.finish();
  return v;
}

/** Encodes a parsed content again, as a sender would. */
function encode(v) {
  const body = (x) => (x.text !== undefined ? cat(u8(0), var32(utf8(x.text))) : cat(u8(2), var32(x.manifest)));
  switch (v.kind) {
    case "text": return [0, utf8(v.text)];
    case "bytes": return [1, v.bytes];
    case "file": return [2, v.manifest];
    case "post": {
      const flags = (v.replyTo ? 1 : 0) | (v.expiresIn ? 2 : 0);
      return [3, cat(u8(flags), v.replyTo ?? new Uint8Array(0), v.expiresIn ? u32(v.expiresIn) : new Uint8Array(0), body(v))];
    }
    case "edit": return [4, cat(v.target, var32(utf8(v.text)))];
    case "delete": return [5, v.target];
    case "reaction": {
      const e = utf8(v.emoji);
      return [6, cat(v.target, u8(e.length), e)];
    }
    case "read": return [7, cat(Uint8Array.of(v.targets.length >> 8, v.targets.length & 0xff), ...v.targets)];
    case "typing": return [8, u8(v.active ? 1 : 0)];
    case "timer": return [9, u32(v.expiresIn ?? 0)];
  }
}

const json = vectors("v2/content.json");

for (const c of json.contents) {
  await check(`content.json: ${c.name} parses and re-encodes (28)`, () => {
    const [type, bytes] = encode(parse(c.content_type, unhex(c.content)));
    assert(type === c.content_type && hex(bytes) === c.content, "same bytes");
  });
}
for (const c of json.fail_contents) {
  await check(`content.json fail: ${c.name} is MALFORMED`, () => {
    try {
      parse(c.content_type, unhex(c.content));
    } catch (e) {
      assert(e.code === "MALFORMED", `MALFORMED, got ${e.code ?? e}`);
      return;
    }
    throw new Error("parsed");
  });
}

summary();
