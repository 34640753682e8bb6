/**
 * A strict parser for the Python literal subset numpy writes in `.npy` headers: dicts, tuples, lists,
 * quoted strings, non-negative decimal integers, `True`, `False` and `None`.
 *
 * Nothing is ever evaluated: any other token (names, calls, operators, attribute access) is refused.
 * Nesting is capped so a hostile header cannot exhaust the stack.
 */

/** A parsed Python literal. */
export type PythonLiteral =
  | { readonly type: "str"; readonly value: string }
  | { readonly type: "int"; readonly value: bigint }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "none" }
  | { readonly type: "tuple"; readonly items: readonly PythonLiteral[] }
  | { readonly type: "list"; readonly items: readonly PythonLiteral[] }
  | { readonly type: "dict"; readonly entries: readonly (readonly [PythonLiteral, PythonLiteral])[] };

/** Thrown with a position and reason; the caller wraps it in its own coded error. */
export class LiteralSyntaxError extends Error {}

const MAX_DEPTH = 16;

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  n: "\n",
  t: "\t",
  r: "\r",
  "0": "\0",
};

/** Parses `text` as exactly one literal surrounded by optional whitespace. */
export function parsePythonLiteral(text: string): PythonLiteral {
  let position = 0;

  const fail = (why: string): never => {
    throw new LiteralSyntaxError(`${why} at character ${position}`);
  };
  const skipSpace = () => {
    while (position < text.length && (text[position] === " " || text[position] === "\t" || text[position] === "\n" || text[position] === "\r")) position++;
  };
  const expect = (char: string) => {
    if (text[position] !== char) fail(`expected '${char}'`);
    position++;
  };

  const parseString = (): PythonLiteral => {
    const quote = text[position];
    position++;
    let value = "";
    for (;;) {
      if (position >= text.length) fail("unterminated string");
      const char = text[position]!;
      if (char === quote) {
        position++;
        return { type: "str", value };
      }
      if (char === "\n") fail("newline inside a string");
      if (char === "\\") {
        const next = text[position + 1];
        if (next === undefined) fail("unterminated escape");
        const simple = SIMPLE_ESCAPES[next!];
        if (simple !== undefined) {
          value += simple;
          position += 2;
          continue;
        }
        const hex = next === "x" ? 2 : next === "u" ? 4 : next === "U" ? 8 : 0;
        if (hex === 0) fail(`unsupported escape '\\${next}'`);
        const digits = text.slice(position + 2, position + 2 + hex);
        if (!new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(digits)) fail("malformed hex escape");
        const codePoint = Number.parseInt(digits, 16);
        if (codePoint > 0x10ffff) fail("escape beyond U+10FFFF");
        value += String.fromCodePoint(codePoint);
        position += 2 + hex;
        continue;
      }
      value += char;
      position++;
    }
  };

  const parseSequence = (close: string, depth: number): PythonLiteral[] => {
    const items: PythonLiteral[] = [];
    skipSpace();
    while (text[position] !== close) {
      items.push(parseValue(depth + 1));
      skipSpace();
      if (text[position] === ",") {
        position++;
        skipSpace();
      } else if (text[position] !== close) fail(`expected ',' or '${close}'`);
    }
    position++;
    return items;
  };

  const parseValue = (depth: number): PythonLiteral => {
    if (depth > MAX_DEPTH) fail("nesting too deep");
    skipSpace();
    const char = text[position];
    if (char === undefined) return fail("unexpected end of header");
    if (char === "'" || char === '"') return parseString();
    if ((char >= "0" && char <= "9") || (char === "-" && /[0-9]/.test(text[position + 1] ?? ""))) {
      const start = position;
      if (char === "-") position++;
      while (position < text.length && text[position]! >= "0" && text[position]! <= "9") position++;
      const digits = text.slice(start, position);
      if (/^-?0\d/.test(digits)) fail(`integer with a leading zero '${digits}'`);
      if (digits.length > 40) fail("integer too long");
      if (text[position] === "L") position++; // Python 2 long suffix, as in headers numpy wrote under Python 2
      return { type: "int", value: BigInt(digits) };
    }
    if (char === "(") {
      const start = position;
      position++;
      const items = parseSequence(")", depth);
      // `(x)` without a comma is just a parenthesised value in Python, not a tuple.
      const inner = text.slice(start + 1, position - 1).trim();
      if (items.length === 1 && !inner.endsWith(",")) return items[0]!;
      return { type: "tuple", items };
    }
    if (char === "[") {
      position++;
      return { type: "list", items: parseSequence("]", depth) };
    }
    if (char === "{") {
      position++;
      const entries: [PythonLiteral, PythonLiteral][] = [];
      skipSpace();
      while (text[position] !== "}") {
        const key = parseValue(depth + 1);
        skipSpace();
        expect(":");
        const value = parseValue(depth + 1);
        entries.push([key, value]);
        skipSpace();
        if (text[position] === ",") {
          position++;
          skipSpace();
        } else if (text[position] !== "}") fail("expected ',' or '}'");
      }
      position++;
      return { type: "dict", entries };
    }
    for (const [word, literal] of [
      ["True", { type: "bool", value: true }],
      ["False", { type: "bool", value: false }],
      ["None", { type: "none" }],
    ] as const) {
      if (text.startsWith(word, position) && !/[A-Za-z0-9_]/.test(text[position + word.length] ?? "")) {
        position += word.length;
        return literal;
      }
    }
    const token = /^[^\s,:()[\]{}]{1,20}/.exec(text.slice(position))?.[0] ?? char;
    return fail(`'${token}' is not a literal (headers are parsed, never evaluated)`);
  };

  const value = parseValue(0);
  skipSpace();
  if (position !== text.length) fail("unexpected text after the literal");
  return value;
}

/** Python's `repr` of a parsed literal, for messages. */
export function showLiteral(literal: PythonLiteral): string {
  switch (literal.type) {
    case "str":
      return `'${literal.value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
    case "int":
      return literal.value.toString();
    case "bool":
      return literal.value ? "True" : "False";
    case "none":
      return "None";
    case "tuple":
      return literal.items.length === 1 ? `(${showLiteral(literal.items[0]!)},)` : `(${literal.items.map(showLiteral).join(", ")})`;
    case "list":
      return `[${literal.items.map(showLiteral).join(", ")}]`;
    case "dict":
      return `{${literal.entries.map(([key, value]) => `${showLiteral(key)}: ${showLiteral(value)}`).join(", ")}}`;
  }
}
