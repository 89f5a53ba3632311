/**
 * A MessagePack format walker for tests: reads raw bytes (independently of any codec under
 * test) and reports, for every scalar value, the path it sits at and the format family the
 * encoder chose. A strictly typed client (Go, Rust, Java) fails exactly where a field that
 * should be an `int` arrives as a `float`.
 */
export type FormatFamily = 'int' | 'float' | 'str' | 'nil' | 'bool' | 'bin' | 'ext';

export interface ScalarFormat {
  readonly path: string;
  readonly family: FormatFamily;
  /** The format byte, e.g. 0xcb for float64. */
  readonly format: number;
  /** Numeric value of int and float formats. */
  readonly number?: number;
}

export function msgpackFormats(bytes: Uint8Array): ScalarFormat[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: ScalarFormat[] = [];
  let pos = 0;

  const need = (n: number): void => {
    if (pos + n > bytes.length) throw new Error(`truncated MessagePack at byte ${pos}`);
  };
  const uint = (size: 1 | 2 | 4): number => {
    need(size);
    const v = size === 1 ? view.getUint8(pos) : size === 2 ? view.getUint16(pos) : view.getUint32(pos);
    pos += size;
    return v;
  };
  const str = (length: number): string => {
    need(length);
    const s = Buffer.from(bytes.buffer, bytes.byteOffset + pos, length).toString('utf8');
    pos += length;
    return s;
  };
  const scalar = (path: string, family: FormatFamily, format: number, size: number, number?: number): void => {
    need(size);
    pos += size;
    out.push({ path, family, format, ...(number === undefined ? {} : { number }) });
  };

  const value = (path: string): string | undefined => {
    need(1);
    const f = bytes[pos++];
    if (f <= 0x7f) { scalar(path, 'int', f, 0, f); return undefined; }
    if (f >= 0xe0) { scalar(path, 'int', f, 0, f - 0x100); return undefined; }
    if (f <= 0x8f) return map(path, f & 0x0f);
    if (f <= 0x9f) return array(path, f & 0x0f);
    if (f <= 0xbf) return text(path, f, f & 0x1f);
    switch (f) {
      case 0xc0: scalar(path, 'nil', f, 0); return undefined;
      case 0xc2: case 0xc3: scalar(path, 'bool', f, 0); return undefined;
      case 0xc4: scalar(path, 'bin', f, uint(1)); return undefined;
      case 0xc5: scalar(path, 'bin', f, uint(2)); return undefined;
      case 0xc6: scalar(path, 'bin', f, uint(4)); return undefined;
      case 0xc7: scalar(path, 'ext', f, uint(1) + 1); return undefined;
      case 0xc8: scalar(path, 'ext', f, uint(2) + 1); return undefined;
      case 0xc9: scalar(path, 'ext', f, uint(4) + 1); return undefined;
      case 0xca: need(4); scalar(path, 'float', f, 4, view.getFloat32(pos)); return undefined;
      case 0xcb: need(8); scalar(path, 'float', f, 8, view.getFloat64(pos)); return undefined;
      case 0xcc: need(1); scalar(path, 'int', f, 1, view.getUint8(pos)); return undefined;
      case 0xcd: need(2); scalar(path, 'int', f, 2, view.getUint16(pos)); return undefined;
      case 0xce: need(4); scalar(path, 'int', f, 4, view.getUint32(pos)); return undefined;
      case 0xcf: need(8); scalar(path, 'int', f, 8, Number(view.getBigUint64(pos))); return undefined;
      case 0xd0: need(1); scalar(path, 'int', f, 1, view.getInt8(pos)); return undefined;
      case 0xd1: need(2); scalar(path, 'int', f, 2, view.getInt16(pos)); return undefined;
      case 0xd2: need(4); scalar(path, 'int', f, 4, view.getInt32(pos)); return undefined;
      case 0xd3: need(8); scalar(path, 'int', f, 8, Number(view.getBigInt64(pos))); return undefined;
      case 0xd4: scalar(path, 'ext', f, 2); return undefined;
      case 0xd5: scalar(path, 'ext', f, 3); return undefined;
      case 0xd6: scalar(path, 'ext', f, 5); return undefined;
      case 0xd7: scalar(path, 'ext', f, 9); return undefined;
      case 0xd8: scalar(path, 'ext', f, 17); return undefined;
      case 0xd9: return text(path, f, uint(1));
      case 0xda: return text(path, f, uint(2));
      case 0xdb: return text(path, f, uint(4));
      case 0xdc: return array(path, uint(2));
      case 0xdd: return array(path, uint(4));
      case 0xde: return map(path, uint(2));
      case 0xdf: return map(path, uint(4));
      default: throw new Error(`format byte 0x${f.toString(16)} at ${pos - 1} is never used`);
    }
  };
  // Returns the string so that map keys can name the path of their value.
  function text(path: string, format: number, length: number): string {
    const s = str(length);
    out.push({ path, family: 'str', format });
    return s;
  }
  function array(path: string, n: number): undefined {
    for (let i = 0; i < n; i++) value(`${path}[${i}]`);
    return undefined;
  }
  function map(path: string, n: number): undefined {
    for (let i = 0; i < n; i++) {
      const before = out.length;
      const key = value(`${path}.<key>`);
      out.length = before; // keys are not values of the document
      value(`${path}.${key ?? '?'}`);
    }
    return undefined;
  }

  value('$');
  if (pos !== bytes.length) throw new Error(`${bytes.length - pos} bytes after the value`);
  return out;
}

/** Paths of numbers whose value is an integer but whose format is a float: what strict clients reject. */
export function integersSentAsFloats(bytes: Uint8Array): string[] {
  return msgpackFormats(bytes).filter((s) => s.family === 'float' && Number.isInteger(s.number)).map((s) => `${s.path} = ${s.number}`);
}

/** The format family of every value at a path ending in one of `fields` (e.g. `ts`, `seq`). */
export function familiesOf(bytes: Uint8Array, fields: readonly string[]): Array<{ path: string; family: FormatFamily }> {
  return msgpackFormats(bytes)
    .filter((s) => fields.some((f) => s.path.endsWith(`.${f}`)))
    .map(({ path, family }) => ({ path, family }));
}
