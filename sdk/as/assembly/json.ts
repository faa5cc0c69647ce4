// A single-pass JSON reader over guest memory and a UTF-8 JSON writer, with the Go SDK's
// rules: encoding/json's grammar, nesting at most 512 deep, strings decoded as encoding/json
// does (surrogate pairs joined, lone surrogates and invalid UTF-8 as U+FFFD), duplicate keys
// refused by the typed views (see sluice.ts).

export const MAX_DEPTH: i32 = 512;

export class Reader {
  p: usize;
  end: usize;
  depth: i32 = 0;
  err: string | null = null;

  constructor(p: usize, n: usize) {
    this.p = p;
    this.end = p + n;
  }

  fail(msg: string): void {
    if (this.err === null) this.err = msg + " at offset " + this.p.toString();
    this.p = this.end;
  }

  ok(): bool {
    return this.err === null;
  }

  ws(): void {
    while (this.p < this.end) {
      const c = load<u8>(this.p);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return;
      this.p++;
    }
  }

  peek(): u8 {
    this.ws();
    return this.p < this.end ? load<u8>(this.p) : 0;
  }

  open(c: u8): bool {
    if (this.peek() != c) {
      this.fail(c == 0x7b ? "expected object" : "expected array");
      return false;
    }
    if (this.depth >= MAX_DEPTH) {
      this.fail("exceeded max depth");
      return false;
    }
    this.depth++;
    this.p++;
    return true;
  }

  // next advances to the next item of the container being read (after open), consuming the
  // separator; false at the closer (consumed) or on an error. n is the count of items so far.
  next(n: i32, closer: u8): bool {
    const c = this.peek();
    if (c == closer) {
      this.p++;
      this.depth--;
      return false;
    }
    if (n > 0) {
      if (c != 0x2c) {
        this.fail("expected ',' or closer");
        return false;
      }
      this.p++;
      if (this.peek() == closer) {
        this.fail("trailing comma");
        return false;
      }
    }
    return this.ok();
  }

  // key reads an object key and its colon.
  key(): string {
    const k = this.str();
    if (!this.ok()) return "";
    if (this.peek() != 0x3a) {
      this.fail("expected ':' after object key");
      return "";
    }
    this.p++;
    return k;
  }

  isNull(): bool {
    if (this.peek() == 0x6e && this.p + 4 <= this.end && load<u8>(this.p + 1) == 0x75 &&
      load<u8>(this.p + 2) == 0x6c && load<u8>(this.p + 3) == 0x6c) {
      this.p += 4;
      return true;
    }
    return false;
  }

  // str reads a string (null reads as "").
  str(): string {
    if (this.isNull()) return "";
    if (this.peek() != 0x22) {
      this.fail("expected string");
      return "";
    }
    const start = this.p + 1;
    let q = start;
    while (q < this.end) {
      const c = load<u8>(q);
      if (c == 0x22 || c == 0x5c || c < 0x20 || c >= 0x80) break;
      q++;
    }
    if (q < this.end && load<u8>(q) == 0x22) {
      this.p = q + 1;
      return String.UTF8.decodeUnsafe(start, q - start);
    }
    return this.strSlow(start);
  }

  // skipStr validates and consumes a string without decoding it (skipped members can be large).
  skipStr(): void {
    let q = this.p + 1;
    while (q < this.end) {
      const c = load<u8>(q);
      if (c == 0x22) {
        this.p = q + 1;
        return;
      }
      if (c < 0x20) {
        this.p = q;
        this.fail("control character in string");
        return;
      }
      if (c == 0x5c) {
        if (q + 1 >= this.end) break;
        const e = load<u8>(q + 1);
        if (e == 0x22 || e == 0x5c || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
          q += 2;
        } else if (e == 0x75 && hex4(q + 2, this.end) >= 0) {
          q += 6;
        } else {
          this.p = q;
          this.fail("invalid escape");
          return;
        }
        continue;
      }
      q++;
    }
    this.p = this.end;
    this.fail("unterminated string");
  }

  // strSlow decodes escapes and non-ASCII bytes, replacing what encoding/json replaces.
  strSlow(start: usize): string {
    const units = new Array<i32>();
    let q = start;
    while (true) {
      if (q >= this.end) {
        this.fail("unterminated string");
        return "";
      }
      const c = load<u8>(q);
      if (c == 0x22) break;
      if (c < 0x20) {
        this.p = q;
        this.fail("control character in string");
        return "";
      }
      if (c == 0x5c) {
        if (q + 1 >= this.end) {
          this.fail("unexpected end of string escape");
          return "";
        }
        const e = load<u8>(q + 1);
        q += 2;
        if (e == 0x22 || e == 0x5c || e == 0x2f) units.push(<i32>e);
        else if (e == 0x62) units.push(8);
        else if (e == 0x66) units.push(12);
        else if (e == 0x6e) units.push(10);
        else if (e == 0x72) units.push(13);
        else if (e == 0x74) units.push(9);
        else if (e == 0x75) {
          const r = hex4(q, this.end);
          if (r < 0) {
            this.p = q;
            this.fail("invalid \\u escape");
            return "";
          }
          q += 4;
          if (r >= 0xd800 && r < 0xdc00) {
            // A high surrogate joins a following low one; alone it is U+FFFD.
            if (q + 6 <= this.end && load<u8>(q) == 0x5c && load<u8>(q + 1) == 0x75) {
              const r2 = hex4(q + 2, this.end);
              if (r2 >= 0xdc00 && r2 < 0xe000) {
                units.push(r);
                units.push(r2);
                q += 6;
                continue;
              }
            }
            units.push(0xfffd);
          } else if (r >= 0xdc00 && r < 0xe000) {
            units.push(0xfffd);
          } else {
            units.push(r);
          }
        } else {
          this.p = q;
          this.fail("invalid escape");
          return "";
        }
        continue;
      }
      if (c < 0x80) {
        units.push(<i32>c);
        q++;
        continue;
      }
      // UTF-8 with utf8.DecodeRune's rules: an invalid sequence is one U+FFFD per bad byte.
      const n = utf8Len(q, this.end);
      if (n == 0) {
        units.push(0xfffd);
        q++;
        continue;
      }
      let cp: i32;
      if (n == 2) cp = ((<i32>c & 0x1f) << 6) | (<i32>load<u8>(q + 1) & 0x3f);
      else if (n == 3) cp = ((<i32>c & 0x0f) << 12) | ((<i32>load<u8>(q + 1) & 0x3f) << 6) | (<i32>load<u8>(q + 2) & 0x3f);
      else cp = ((<i32>c & 0x07) << 18) | ((<i32>load<u8>(q + 1) & 0x3f) << 12) | ((<i32>load<u8>(q + 2) & 0x3f) << 6) | (<i32>load<u8>(q + 3) & 0x3f);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        units.push(0xd800 + (cp >> 10));
        units.push(0xdc00 + (cp & 0x3ff));
      } else {
        units.push(cp);
      }
      q += n;
    }
    this.p = q + 1;
    return String.fromCharCodes(units);
  }

  // numSpan validates a number with the grammar and returns its start (the end is this.p).
  numSpan(): usize {
    this.ws();
    const start = this.p;
    let q = this.p;
    if (q < this.end && load<u8>(q) == 0x2d) q++;
    if (q >= this.end) {
      this.fail("expected number");
      return 0;
    }
    let c = load<u8>(q);
    if (c == 0x30) q++;
    else if (c >= 0x31 && c <= 0x39) {
      while (q < this.end && isDigit(load<u8>(q))) q++;
    } else {
      this.fail("expected number");
      return 0;
    }
    if (q < this.end && load<u8>(q) == 0x2e) {
      q++;
      if (q >= this.end || !isDigit(load<u8>(q))) {
        this.fail("invalid number fraction");
        return 0;
      }
      while (q < this.end && isDigit(load<u8>(q))) q++;
    }
    if (q < this.end && (load<u8>(q) == 0x65 || load<u8>(q) == 0x45)) {
      q++;
      if (q < this.end && (load<u8>(q) == 0x2b || load<u8>(q) == 0x2d)) q++;
      if (q >= this.end || !isDigit(load<u8>(q))) {
        this.fail("invalid number exponent");
        return 0;
      }
      while (q < this.end && isDigit(load<u8>(q))) q++;
    }
    this.p = q;
    return start;
  }

  // float reads a number (null reads as 0); out of float64's range is an error.
  float(): f64 {
    if (this.isNull()) return 0;
    const start = this.numSpan();
    if (!this.ok()) return 0;
    const f = parseFloat(String.UTF8.decodeUnsafe(start, this.p - start));
    if (!isFinite(f)) {
      this.fail("number out of range");
      return 0;
    }
    return f;
  }

  // int reads an integer (null reads as 0): a fraction, an exponent or more than 18 digits is
  // an error.
  int(): i64 {
    if (this.isNull()) return 0;
    const start = this.numSpan();
    if (!this.ok()) return 0;
    let q = start;
    let neg = false;
    if (load<u8>(q) == 0x2d) {
      neg = true;
      q++;
    }
    if (this.p - q > 18) {
      this.fail("integer out of range");
      return 0;
    }
    let v: i64 = 0;
    for (; q < this.p; q++) {
      const c = load<u8>(q);
      if (!isDigit(c)) {
        this.fail("not an integer");
        return 0;
      }
      v = v * 10 + <i64>(c - 0x30);
    }
    return neg ? -v : v;
  }

  bool(): bool {
    const c = this.peek();
    if (c == 0x74 && this.p + 4 <= this.end && load<u8>(this.p + 1) == 0x72 && load<u8>(this.p + 2) == 0x75 && load<u8>(this.p + 3) == 0x65) {
      this.p += 4;
      return true;
    }
    if (c == 0x66 && this.p + 5 <= this.end && load<u8>(this.p + 1) == 0x61 && load<u8>(this.p + 2) == 0x6c && load<u8>(this.p + 3) == 0x73 && load<u8>(this.p + 4) == 0x65) {
      this.p += 5;
      return false;
    }
    if (this.isNull()) return false;
    this.fail("expected boolean");
    return false;
  }

  // skip validates and consumes one value of any kind.
  skip(): void {
    const c = this.peek();
    if (c == 0x7b) {
      if (!this.open(0x7b)) return;
      for (let n = 0; this.next(n, 0x7d); n++) {
        this.key();
        this.skip();
      }
    } else if (c == 0x5b) {
      if (!this.open(0x5b)) return;
      for (let n = 0; this.next(n, 0x5d); n++) this.skip();
    } else if (c == 0x22) {
      this.skipStr();
    } else if (c == 0x74 || c == 0x66) {
      this.bool();
    } else if (c == 0x6e) {
      if (!this.isNull()) this.fail("invalid literal");
    } else {
      this.numSpan();
    }
  }

  // raw consumes one value and returns where it starts (it ends at this.p).
  raw(): usize {
    this.ws();
    const start = this.p;
    this.skip();
    return start;
  }

  // finish reports the first error, or one when anything but whitespace follows.
  finish(): string | null {
    this.ws();
    if (this.err === null && this.p != this.end) this.fail("unexpected data after top-level value");
    return this.err;
  }
}

function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

function hexVal(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30;
  if (c >= 0x61 && c <= 0x66) return <i32>c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return <i32>c - 0x41 + 10;
  return -1;
}

function hex4(q: usize, end: usize): i32 {
  if (q + 4 > end) return -1;
  let r = 0;
  for (let i: usize = 0; i < 4; i++) {
    const h = hexVal(load<u8>(q + i));
    if (h < 0) return -1;
    r = (r << 4) | h;
  }
  return r;
}

function cont(q: usize, end: usize): bool {
  return q < end && (load<u8>(q) & 0xc0) == 0x80;
}

// utf8Len is the length of the valid UTF-8 sequence at q, or 0 (utf8.DecodeRune's rules:
// no overlong forms, no surrogates, nothing above U+10FFFF).
function utf8Len(q: usize, end: usize): i32 {
  const c = load<u8>(q);
  if (c >= 0xc2 && c <= 0xdf) return cont(q + 1, end) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(q + 1, end) || !cont(q + 2, end)) return 0;
    const c1 = load<u8>(q + 1);
    if (c == 0xe0 && c1 < 0xa0) return 0;
    if (c == 0xed && c1 >= 0xa0) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(q + 1, end) || !cont(q + 2, end) || !cont(q + 3, end)) return 0;
    const c1 = load<u8>(q + 1);
    if (c == 0xf0 && c1 < 0x90) return 0;
    if (c == 0xf4 && c1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

// Writer appends UTF-8 JSON to a growing buffer.
export class Writer {
  buf: ArrayBuffer = new ArrayBuffer(256);
  n: i32 = 0;

  reset(): void {
    this.n = 0;
  }

  grow(k: i32): void {
    if (this.n + k <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.n + k) size *= 2;
    const nb = new ArrayBuffer(size);
    memory.copy(changetype<usize>(nb), changetype<usize>(this.buf), <usize>this.n);
    this.buf = nb;
  }

  byte(c: i32): void {
    this.grow(1);
    store<u8>(changetype<usize>(this.buf) + <usize>this.n, <u8>c);
    this.n++;
  }

  ascii(s: string): void {
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i));
  }

  bytes(p: usize, k: i32): void {
    this.grow(k);
    memory.copy(changetype<usize>(this.buf) + <usize>this.n, p, <usize>k);
    this.n += k;
  }

  int(v: i64): void {
    this.ascii(v.toString());
  }

  // string appends s as a JSON string: quote, backslash and control characters escaped, and
  // U+2028/U+2029 too; a lone surrogate becomes U+FFFD (encoding/json's rules).
  string(s: string): void {
    this.byte(0x22);
    const hex = "0123456789abcdef";
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c == 0x22 || c == 0x5c) {
        this.byte(0x5c);
        this.byte(c);
      } else if (c == 0x0a) {
        this.byte(0x5c);
        this.byte(0x6e);
      } else if (c == 0x0d) {
        this.byte(0x5c);
        this.byte(0x72);
      } else if (c == 0x09) {
        this.byte(0x5c);
        this.byte(0x74);
      } else if (c < 0x20) {
        this.ascii("\\u00");
        this.byte(hex.charCodeAt(c >> 4));
        this.byte(hex.charCodeAt(c & 0xf));
      } else if (c < 0x80) {
        this.byte(c);
      } else if (c == 0x2028 || c == 0x2029) {
        this.ascii(c == 0x2028 ? "\\u2028" : "\\u2029");
      } else {
        let cp = c;
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d < 0xe000) {
            cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            i++;
          }
        }
        if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;
        if (cp < 0x800) {
          this.byte(0xc0 | (cp >> 6));
          this.byte(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
          this.byte(0xe0 | (cp >> 12));
          this.byte(0x80 | ((cp >> 6) & 0x3f));
          this.byte(0x80 | (cp & 0x3f));
        } else {
          this.byte(0xf0 | (cp >> 18));
          this.byte(0x80 | ((cp >> 12) & 0x3f));
          this.byte(0x80 | ((cp >> 6) & 0x3f));
          this.byte(0x80 | (cp & 0x3f));
        }
      }
    }
    this.byte(0x22);
  }
}
