/**
 * Hand-written lexer and recursive-descent parser for Entra's expression language.
 *
 *   expression := operand (compareOp operand)?
 *   operand    := '[' attribute ']' | '"' string '"' | number | '&H' hex | Name '(' args ')'
 *               | Name | '(' expression ')'
 *   args       := (arg (',' arg)*)?      an arg may be empty: Switch([a], , "x", "y")
 *   compareOp  := '=' | '<>' | '<' | '<=' | '>' | '>='
 *
 * Every node keeps its offset so errors point at a line and column.
 */

export const MAX_EXPRESSION_LENGTH = 10_000;
const MAX_DEPTH = 100;

export type CompareOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

export type Node =
  | { kind: 'attr'; name: string; pos: number }
  | { kind: 'str'; value: string; pos: number }
  | { kind: 'num'; value: number; raw: string; pos: number }
  | { kind: 'name'; name: string; pos: number }
  | { kind: 'empty'; pos: number }
  | { kind: 'call'; name: string; args: Node[]; pos: number; end: number }
  | { kind: 'cmp'; op: CompareOp; left: Node; right: Node; pos: number };

export class ExpressionError extends Error {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
  /** The message without the position suffix. */
  readonly reason: string;
  /** 'syntax' and 'check' come from compileExpression; 'runtime' and 'unique' from evaluate. */
  readonly code: 'syntax' | 'check' | 'runtime' | 'unique';
  constructor(reason: string, source: string, offset: number, code: ExpressionError['code']) {
    const { line, column } = lineColumn(source, offset);
    super(`${reason} (line ${line}, column ${column})`);
    this.name = 'ExpressionError';
    this.reason = reason;
    this.offset = offset;
    this.line = line;
    this.column = column;
    this.code = code;
  }
}

export function lineColumn(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, source.length);
  for (let i = 0; i < end; i++) {
    if (source[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

type Tok =
  | { t: 'attr'; v: string; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'num'; v: number; raw: string; pos: number }
  | { t: 'name'; v: string; pos: number }
  | { t: 'punct'; v: '(' | ')' | ',' | CompareOp; pos: number }
  | { t: 'end'; pos: number };

function describe(tok: Tok): string {
  switch (tok.t) {
    case 'end':
      return 'the end of the expression';
    case 'attr':
      return `[${tok.v}]`;
    case 'str':
      return 'a string';
    case 'num':
      return `the number ${tok.raw}`;
    case 'name':
      return `'${tok.v}'`;
    default:
      return `'${tok.v}'`;
  }
}

function lex(src: string): Tok[] {
  const toks: Tok[] = [];
  const err = (msg: string, at: number) => new ExpressionError(msg, src, at, 'syntax');
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\u00a0') {
      i++;
      continue;
    }
    const start = i;
    if (c === '[') {
      const end = src.indexOf(']', i + 1);
      const nl = src.indexOf('\n', i + 1);
      if (end < 0 || (nl >= 0 && nl < end))
        throw err('Attribute reference is not closed: expected ]', start);
      const name = src.slice(i + 1, end).trim();
      if (name === '') throw err('Empty attribute reference []', start);
      if (name.includes('[')) throw err(`Attribute name '${name}' contains '['`, start);
      toks.push({ t: 'attr', v: name, pos: start });
      i = end + 1;
      continue;
    }
    if (c === '"' || c === '\u201c' || c === '\u201d') {
      if (c !== '"') throw err('Typographic quote: strings use straight double quotes "…"', start);
      let v = '';
      i++;
      for (;;) {
        if (i >= src.length) throw err('String is not closed: expected "', start);
        const d = src[i]!;
        if (d === '\\') {
          const n = src[i + 1];
          if (n === '"' || n === '\\') {
            v += n;
            i += 2;
          } else {
            v += '\\';
            i++;
          }
          continue;
        }
        if (d === '"') {
          i++;
          break;
        }
        v += d;
        i++;
      }
      toks.push({ t: 'str', v, pos: start });
      continue;
    }
    if (c === '&' && (src[i + 1] === 'H' || src[i + 1] === 'h')) {
      const m = /^&[Hh]([0-9A-Fa-f]+)/.exec(src.slice(i, i + 40));
      if (!m) throw err('Expected hexadecimal digits after &H', start);
      const digits = m[1]!;
      if (digits.length > 13) throw err('Hexadecimal number is too large', start);
      toks.push({ t: 'num', v: parseInt(digits, 16), raw: m[0], pos: start });
      i += m[0].length;
      continue;
    }
    if (
      /[0-9]/.test(c) ||
      (c === '-' && /^(\d|\.\d)/.test(src.slice(i + 1, i + 3))) ||
      (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))
    ) {
      const m = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(src.slice(i, i + 400))!;
      const raw = m[0];
      if (/[A-Za-z_]/.test(src[i + raw.length] ?? ''))
        throw err(`Unexpected '${src[i + raw.length]}' after the number ${raw}`, i + raw.length);
      toks.push({ t: 'num', v: Number(raw), raw, pos: start });
      i += raw.length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 200))!;
      toks.push({ t: 'name', v: m[0], pos: start });
      i += m[0].length;
      continue;
    }
    if (c === '(' || c === ')' || c === ',' || c === '=') {
      toks.push({ t: 'punct', v: c, pos: start });
      i++;
      continue;
    }
    if (c === '<' || c === '>') {
      const two = src.slice(i, i + 2);
      if (two === '<>' || two === '<=' || two === '>=') {
        toks.push({ t: 'punct', v: two, pos: start });
        i += 2;
      } else {
        toks.push({ t: 'punct', v: c, pos: start });
        i++;
      }
      continue;
    }
    if (c === '!' && src[i + 1] === '=') throw err("Use '<>' for 'not equal' (not '!=')", start);
    if (c === "'") throw err('Strings use double quotes "…", not single quotes', start);
    throw err(`Unexpected character '${c}'`, start);
  }
  toks.push({ t: 'end', pos: src.length });
  return toks;
}

export function parse(src: string): Node {
  if (src.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(
      `Expression is ${src.length} characters long; the limit is ${MAX_EXPRESSION_LENGTH}`,
      src,
      MAX_EXPRESSION_LENGTH,
      'syntax',
    );
  }
  const toks = lex(src);
  let p = 0;
  const err = (msg: string, at: number) => new ExpressionError(msg, src, at, 'syntax');
  const peek = () => toks[p]!;
  const isPunct = (tok: Tok, v: string) => tok.t === 'punct' && tok.v === v;

  function expression(depth: number): Node {
    if (depth > MAX_DEPTH)
      throw err(`Expression is nested more than ${MAX_DEPTH} levels deep`, peek().pos);
    const left = operand(depth);
    const tok = peek();
    if (tok.t === 'punct' && tok.v !== '(' && tok.v !== ')' && tok.v !== ',') {
      p++;
      const right = operand(depth);
      const after = peek();
      if (after.t === 'punct' && after.v !== '(' && after.v !== ')' && after.v !== ',') {
        throw err(`Comparisons cannot be chained: nest them in IIF instead`, after.pos);
      }
      return { kind: 'cmp', op: tok.v, left, right, pos: tok.pos };
    }
    return left;
  }

  function operand(depth: number): Node {
    const tok = peek();
    switch (tok.t) {
      case 'attr':
        p++;
        return { kind: 'attr', name: tok.v, pos: tok.pos };
      case 'str':
        p++;
        return { kind: 'str', value: tok.v, pos: tok.pos };
      case 'num':
        p++;
        return { kind: 'num', value: tok.v, raw: tok.raw, pos: tok.pos };
      case 'name': {
        p++;
        if (!isPunct(peek(), '(')) return { kind: 'name', name: tok.v, pos: tok.pos };
        const open = peek();
        p++;
        const args: Node[] = [];
        if (isPunct(peek(), ')')) {
          const close = peek();
          p++;
          return { kind: 'call', name: tok.v, args, pos: tok.pos, end: close.pos };
        }
        for (;;) {
          const at = peek();
          if (isPunct(at, ',') || isPunct(at, ')')) args.push({ kind: 'empty', pos: at.pos });
          else args.push(expression(depth + 1));
          const next = peek();
          if (isPunct(next, ',')) {
            p++;
            continue;
          }
          if (isPunct(next, ')')) {
            p++;
            return { kind: 'call', name: tok.v, args, pos: tok.pos, end: next.pos };
          }
          if (next.t === 'end') {
            const { column } = lineColumn(src, open.pos);
            throw err(
              `${tok.v}( opened at column ${column} is not closed: expected ',' or ')'`,
              next.pos,
            );
          }
          throw err(`Expected ',' or ')' in ${tok.v}(…) but found ${describe(next)}`, next.pos);
        }
      }
      case 'punct':
        if (tok.v === '(') {
          p++;
          const inner = expression(depth + 1);
          const close = peek();
          if (!isPunct(close, ')'))
            throw err(`Expected ')' but found ${describe(close)}`, close.pos);
          p++;
          return inner;
        }
        throw err(
          `Expected a value (an [attribute], a "string", a number or a function) but found ${describe(tok)}`,
          tok.pos,
        );
      default:
        throw err(
          src.trim() === '' ? 'Expression is empty' : `Expected a value but found ${describe(tok)}`,
          tok.pos,
        );
    }
  }

  const root = expression(0);
  const rest = peek();
  if (rest.t !== 'end') {
    throw err(
      isPunct(rest, ',')
        ? "Unexpected ',' at the top level: arguments belong inside a function call"
        : `Unexpected ${describe(rest)} after the end of the expression`,
      rest.pos,
    );
  }
  return root;
}
