// Attributes on the JS side: the attribute key (the string format the core decodes, see
// bindings/src/lib.rs) and the per-instrument cache of bound attribute sets. Why a file of its
// own: this is the record hot path, and its rules (which keys count, what is dropped and counted,
// what may be cached) must be the same for every instrument.
//
// Rules (README "Attributes"): own enumerable string keys only; values are strings, numbers,
// booleans or bigints (other objects are stringified); null, undefined, a bigint outside int64 and
// any value that cannot be read (throwing getter or `toString`) drop their attribute alone, counted
// in `edgemetrics.sdk.attributes.dropped`; an object whose keys cannot be listed (a Proxy whose
// trap throws) records the value without attributes and counts one dropped attribute. The core
// keeps the first `maxAttributes` (32) in key order and counts the rest.

import { memory } from './answers.js';

const hasOwn = Object.hasOwn;
const getProto = Object.getPrototypeOf;
const OBJECT_PROTO = Object.prototype;
/** Object.prototype has an enumerable property (seen on a cache miss): check every key. */
let protoPolluted = false;
function checkObjectPrototype() {
  for (const _ in OBJECT_PROTO) {
    protoPolluted = true;
    return;
  }
}
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** The key of an attribute object that could not be read at all: one dropped attribute. */
export const UNREADABLE = '0:x';

const f64view = new DataView(new ArrayBuffer(8));
/** IEEE-754 bits of `v` as 16 hex digits (big-endian): exact, and cheap for the core to read. */
function doubleHex(v) {
  f64view.setFloat64(0, v);
  return f64view.getUint32(0).toString(16).padStart(8, '0') + f64view.getUint32(4).toString(16).padStart(8, '0');
}

/** One pair of the attribute key; an unreadable or unrepresentable value becomes the `x` tag. */
function pair(k, obj) {
  const head = k.length + ':' + k;
  try {
    const v = obj[k];
    switch (typeof v) {
      case 'string':
        return head + 's' + v.length + ':' + v;
      case 'number':
        return head + (Number.isSafeInteger(v) ? 'i' + v + ';' : 'd' + doubleHex(v));
      case 'boolean':
        return head + (v ? 't' : 'f');
      case 'bigint':
        return head + (v >= INT64_MIN && v <= INT64_MAX ? 'i' + v + ';' : 'x');
      case 'undefined':
        return head + 'x';
      default: {
        if (v === null) return head + 'x';
        const t = String(v);
        return head + 's' + t.length + ':' + t;
      }
    }
  } catch {
    return head + 'x';
  }
}

/**
 * Builds the attribute key of `attrs` (format in bindings/src/lib.rs): injective thanks to the
 * length prefixes, so it is both what the core decodes and a valid cache key. Never throws.
 */
export function attributeKey(attrs) {
  if (attrs === undefined || attrs === null || typeof attrs !== 'object') return '';
  let keys;
  try {
    keys = Object.keys(attrs);
  } catch {
    return UNREADABLE;
  }
  return keyOf(attrs, keys);
}

/** The attribute key of `attrs` whose own enumerable keys are `keys`. Never throws. */
function keyOf(attrs, keys) {
  let s = '';
  for (const k of keys) s += pair(k, attrs);
  return s;
}

/** Marks the handle stored in a trie node. */
const LEAF = Symbol('handle');
const isArray = Array.isArray;

/** The tail of a set from its key `keys[from]` on: `[key, value, …, handle]` (at least one pair). */
function tail(attrs, keys, from, h) {
  const t = [];
  for (let i = from; i < keys.length; i++) t.push(keys[i], attrs[keys[i]]);
  t.push(h);
  return t;
}

/** A tail turned into a trie node: a Map for its first pair, then the rest of the tail below it. */
function split(t) {
  return new Map([[t[0], new Map([[t[1], t.length === 3 ? t[2] : t.slice(2)]])]]);
}

/** `Core.keyed` results of op 2, bind and record (bindings/src/lib.rs BIND_OVERFLOW, BIND_RELEASE). */
const BIND_OVERFLOW = -2;
const BIND_RELEASE = -3;

const encoder = new TextEncoder();

/**
 * Writes `key` as UTF-8 into the key buffer of `core` (`Core.keyBuf`) in one step and returns its
 * length in bytes: a string argument is copied one UTF-16 unit at a time into memory allocated
 * and freed per call (`encodeInto` writes a lone surrogate as U+FFFD, as that copy did). The
 * core's buffer (`keyPtr`, `keyCap`) and a view of it (`keyView`) are kept on the core, shared by
 * its instruments; only `keyBuf` moves the buffer.
 */
export function writeKey(core, key) {
  const need = key.length * 3; // UTF-8 takes at most 3 bytes per UTF-16 unit
  let v = core.keyView;
  // A view of memory that grew since is detached: its length is then 0.
  if (!(v?.length >= need)) {
    if (!(core.keyCap >= need)) core.keyPtr = core.keyBuf((core.keyCap = need + 1024));
    core.keyView = v = new Uint8Array(memory.buffer, core.keyPtr, core.keyCap);
  }
  return encoder.encodeInto(key, v).written;
}

/**
 * Attribute sets of one instrument already bound in the core. A trie of Maps (attribute key →
 * Map(value → next node), the bound handle under LEAF, or the handle itself in place of a node
 * that would hold nothing else), where the part of a set no other cached set shares is a tail:
 * one array `[key, value, …, handle]` in place of a chain of Maps. A hit costs two Map lookups
 * per attribute down to the tail and one comparison per attribute in it, with the caller's own
 * (usually interned) strings and numbers, nothing built or allocated.
 *
 * Each cached set holds one bind of its own series in the core. Sets that land in the overflow
 * series are not cached (they hold no series). When the cache is full it releases all of them
 * (unbind) and starts empty, and the core asks for the same at most once per window when the
 * instrument is full and some cached series got no value in the window: cached sets therefore
 * never hold series slots the registry could need (an unbound idle series is reclaimed when a new
 * set needs its slot), and a high-churn workload pays one bind per new set, as it would without a
 * cache.
 *
 * The overflow shortcut: once a miss has landed in the overflow series (`full`), a later miss asks
 * the core to record straight into the overflow series (`recordOverflow`, numbers only) when it
 * can prove the set has no series of its own: the cache holds `handles.length` distinct series of
 * the instrument and the core checks that these are all of them; the set is not in the trie and
 * cannot be one of them under another key order (`ranks`: every cached set lists its keys in one
 * order, and so does the set) nor after the core's adjustments (it is `cacheable`).
 */
export class AttrCache {
  constructor(core, id, max, limits) {
    this.core = core;
    this.id = id;
    this.max = max;
    this.trie = new Map();
    this.handles = [];
    /** A miss landed in the overflow series (a hint: the core checks the shortcut every time). */
    this.full = false;
    /** Rank of each key of the cached sets; `ordered`: every cached set lists its keys by rank. */
    this.ranks = new Map();
    this.ordered = true;
    // Sets that the core might change (too many attributes, long keys or values: UTF-8 may take 3
    // bytes per UTF-16 unit) are not cached, so that every recording counts what it loses.
    this.maxAttrs = limits.maxAttributes;
    this.maxKey = Math.floor(limits.maxKeyLength / 3);
    this.maxValue = Math.floor(limits.maxValueLength / 3);
  }

  /** The cached handle for `attrs`, or -1 (not cached yet, or not cacheable). Throws only when reading `attrs` throws. */
  lookup(attrs) {
    let node = this.trie;
    if (typeof attrs === 'object' && attrs !== null) {
      // For a plain object, for…in yields exactly its own enumerable keys (unless something
      // made a property of Object.prototype enumerable: `record` watches for that); other
      // objects also get inherited keys, so they are checked key by key. A node that is a
      // number is a leaf with no longer set below it: a set with more keys is not cached. A node
      // that is an array is a tail (see the class comment), compared pair by pair from `t`.
      const proto = getProto(attrs);
      const own = (proto === OBJECT_PROTO || proto === null) && !protoPolluted;
      let t = -1;
      for (const k in attrs) {
        if (!own && !hasOwn(attrs, k)) continue;
        if (t < 0) {
          if (typeof node !== 'object') return -1;
          if (!isArray(node)) {
            const values = node.get(k);
            if (values === undefined) return -1;
            node = values.get(attrs[k]);
            continue;
          }
          t = 0;
        }
        // Within a tail: the same key next, and the same value as a Map would find (SameValueZero).
        if (t >= node.length - 1 || node[t] !== k) return -1;
        const v = attrs[k];
        const w = node[t + 1];
        if (v !== w && (v === v || w === w)) return -1;
        t += 2;
      }
      if (t >= 0) return t === node.length - 1 ? node[t] : -1;
      if (typeof node === 'number') return node;
      // A tail not entered: a longer set continues where this one ends.
      if (node === undefined || isArray(node)) return -1;
    }
    const h = node.get(LEAF);
    return h === undefined ? -1 : h;
  }

  /**
   * Records `value` for a set `lookup` missed. Returns false when the set is not cacheable (the
   * caller records it with its key), true when recorded. Throws only when reading `attrs` throws.
   */
  record(value, attrs) {
    const core = this.core;
    checkObjectPrototype();
    if (this.full && this.overflowOnly(attrs)) {
      if (core.recordOverflow(this.id, value, this.handles.length)) return true;
      this.full = false;
    }
    // One listing of the keys for the checks, the key and the trie (a Proxy may throw here:
    // nothing is recorded yet and the caller's key builder counts the unreadable object).
    const keys = typeof attrs === 'object' && attrs !== null ? Object.keys(attrs) : null;
    if (keys !== null && !this.cacheable(attrs, keys)) return false;
    const len = keys === null ? 0 : writeKey(core, keyOf(attrs, keys));
    if (this.handles.length >= this.max) this.clear();
    let h = core.keyed(2, this.id, value, len);
    if (h === BIND_RELEASE) {
      // The key buffer is unchanged by unbind.
      this.clear();
      h = core.keyed(2, this.id, value, len);
    }
    if (h >= 0) {
      try {
        this.add(attrs, keys, h);
      } catch {
        // `attrs` could not be read a second time: the value is recorded, the set left uncached.
        core.unbind(h);
      }
    } else if (h === BIND_OVERFLOW) this.full = true;
    // -1: an unknown instrument (the value counted as rejected) or a key buffer not UTF-8.
    return true;
  }

  /** Whether `attrs` (missed by `lookup`) certainly is none of the cached sets in the core's eyes. */
  overflowOnly(attrs) {
    if (!this.ordered) return false;
    if (typeof attrs !== 'object' || attrs === null) return true;
    const proto = getProto(attrs);
    if ((proto !== OBJECT_PROTO && proto !== null) || protoPolluted) return false;
    const ranks = this.ranks;
    let n = 0;
    let last = -1;
    let unseen = false;
    for (const k in attrs) {
      if (++n > this.maxAttrs || k.length === 0 || k.length > this.maxKey) return false;
      const v = attrs[k];
      const t = typeof v;
      if (t === 'string') {
        if (v.length > this.maxValue) return false;
      } else if (t !== 'number' && t !== 'boolean') return false;
      const r = ranks.get(k);
      if (r === undefined) unseen = true;
      else if (r > last) last = r;
      else if (!unseen) return false;
    }
    return true;
  }

  /** Caches `h` (a bind of the own series of `attrs`, whose keys are `keys` or null for none). */
  add(attrs, keys, h) {
    // Below the first value no other cached set shares, the rest of the set is one tail array
    // (or the handle itself when nothing is left): one Map per new set in the usual case, where a
    // trie of Maps took two per attribute. A tail is split into Maps when a set diverges from it,
    // and the handle of a set moves under LEAF into a Map once a longer set continues from it.
    let node = this.trie;
    const n = keys === null ? 0 : keys.length;
    const ranks = this.ranks;
    let last = -1;
    for (let i = 0; i < n; i++) {
      const k = keys[i];
      let r = ranks.get(k);
      if (r === undefined) ranks.set(k, (r = ranks.size));
      if (r <= last) this.ordered = false;
      last = r;
    }
    for (let i = 0; i < n; i++) {
      const k = keys[i];
      let values = node.get(k);
      if (values === undefined) node.set(k, (values = new Map()));
      const v = attrs[k];
      let next = values.get(v);
      if (next === undefined) {
        values.set(v, i === n - 1 ? h : tail(attrs, keys, i + 1, h));
        this.handles.push(h);
        return;
      }
      if (typeof next === 'number') values.set(v, (next = new Map([[LEAF, next]])));
      else if (isArray(next)) values.set(v, (next = split(next)));
      node = next;
    }
    if (node.has(LEAF)) {
      // Cached meanwhile under the same path (cannot happen for a miss, kept as a fence).
      this.core.unbind(h);
      return;
    }
    node.set(LEAF, h);
    this.handles.push(h);
  }

  /** Whether the core keeps the set `attrs` (own keys `keys`) as it is, so that it may be cached. */
  cacheable(attrs, keys) {
    if (keys.length > this.maxAttrs) return false;
    for (const k of keys) {
      if (k.length === 0 || k.length > this.maxKey) return false;
      const v = attrs[k];
      const t = typeof v;
      if (t === 'string') {
        if (v.length > this.maxValue) return false;
      } else if (t !== 'number' && t !== 'boolean') return false;
    }
    return true;
  }

  /** Releases every cached bind. */
  clear() {
    for (const h of this.handles) this.core.unbind(h);
    this.handles = [];
    this.trie = new Map();
    this.ranks = new Map();
    this.ordered = true;
    this.full = false;
  }
}
