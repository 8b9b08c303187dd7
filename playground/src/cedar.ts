// Cedar syntax highlighting for CodeMirror: a small tokenizer, enough to read policies and
// schemas (keywords, annotations, strings, comments, entity types).

import { StreamLanguage, type StreamParser } from '@codemirror/language';

const KEYWORDS = new Set([
  'permit', 'forbid', 'when', 'unless', 'if', 'then', 'else', 'in', 'has', 'like', 'is',
  'true', 'false', 'principal', 'action', 'resource', 'context',
  // schema
  'entity', 'namespace', 'type', 'appliesTo', 'tags', 'enum',
]);

const parser: StreamParser<null> = {
  name: 'cedar',
  token(stream) {
    if (stream.eatSpace()) return null;
    if (stream.match('//')) {
      stream.skipToEnd();
      return 'comment';
    }
    if (stream.match(/^@[A-Za-z_][A-Za-z0-9_]*/)) return 'meta';
    if (stream.peek() === '"') {
      stream.next();
      let escaped = false;
      for (let ch = stream.next(); ch !== undefined; ch = stream.next()) {
        if (ch === '"' && !escaped) break;
        escaped = ch === '\\' && !escaped;
      }
      return 'string';
    }
    if (stream.match(/^[0-9]+/)) return 'number';
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/) as RegExpMatchArray | null;
    if (word) {
      if (KEYWORDS.has(word[0])) return 'keyword';
      if (stream.match('::', false)) return 'typeName';
      return 'variableName';
    }
    stream.next();
    return null;
  },
};

export const cedar = StreamLanguage.define(parser);
