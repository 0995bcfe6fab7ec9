/**
 * JSON text in parts: short strings around prepared bytes. A large prepared result (the tool list of a catalog
 * version, encoded once when it is memoized) goes into a reply as those bytes: the reply is written as
 * [head with the id, the prepared bytes, tail] without turning the large part into text or encoding it again.
 * Every other reply stays a plain string; `Json` is either.
 */
export class JsonText {
  private constructor(
    /** Strings (encoded as UTF-8 when written) and bytes, in order. Prepared bytes are shared: never written to. */
    readonly parts: readonly (string | Buffer)[],
  ) {}

  /** JSON text encoded to bytes once (the prepared lists, memoized per catalog version and permission set). */
  static prepared(json: string): JsonText {
    return new JsonText([Buffer.from(json, 'utf8')]);
  }

  /** The pieces one after the other: a string when all of them are strings, else a JsonText (adjacent strings joined). */
  static concat(pieces: readonly Json[]): Json {
    if (pieces.every((piece) => typeof piece === 'string')) return pieces.join('');
    const parts: (string | Buffer)[] = [];
    let text = '';
    for (const piece of pieces) {
      for (const part of typeof piece === 'string' ? [piece] : piece.parts) {
        if (typeof part === 'string') text += part;
        else {
          if (text) parts.push(text);
          text = '';
          parts.push(part);
        }
      }
    }
    if (text) parts.push(text);
    return new JsonText(parts);
  }

  /** Its length in bytes as UTF-8 (the Content-Length). */
  get byteLength(): number {
    let length = 0;
    for (const part of this.parts) length += typeof part === 'string' ? Buffer.byteLength(part) : part.length;
    return length;
  }

  /** The leading string part ('' when it starts with bytes): enough to read a reply's head (its id, result or error). */
  get head(): string {
    const first = this.parts[0];
    return typeof first === 'string' ? first : '';
  }

  /** One buffer of all of it (for a response that goes out in one chunk). */
  toBuffer(): Buffer {
    return Buffer.concat(this.parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : part)));
  }

  /** The text (for the rare paths that need one: the legacy SSE stream, tests). */
  toString(): string {
    return this.parts.map((part) => (typeof part === 'string' ? part : part.toString('utf8'))).join('');
  }

  /**
   * This JSON object with `members` (text of one or more members, without braces) put first, as compact JSON text
   * (`{members,…}`; `{members}` for an empty object). Undefined when it does not start with `{`.
   */
  withLeadingMembers(members: string): JsonText | undefined {
    const [first, ...rest] = this.parts;
    if (first === undefined) return undefined;
    if (typeof first === 'string' ? !first.startsWith('{') : first[0] !== 0x7b) return undefined;
    if (this.byteLength === 2) return new JsonText([`{${members}}`]); // `{}`
    return new JsonText([`{${members},`, typeof first === 'string' ? first.slice(1) : first.subarray(1), ...rest].filter((part) => part.length > 0));
  }
}

/** JSON text: a plain string, or parts around prepared bytes. */
export type Json = string | JsonText;

/** The text of either form. */
export function jsonString(json: Json): string {
  return typeof json === 'string' ? json : json.toString();
}

/** The parts of either form (a hash or a stream takes them one by one). */
export function jsonParts(json: Json): readonly (string | Buffer)[] {
  return typeof json === 'string' ? [json] : json.parts;
}
