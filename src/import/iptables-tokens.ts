/**
 * Splits one line of an iptables-save dump into arguments exactly as
 * iptables-restore does (add_param_to_argv() in iptables/xshared.c):
 *
 * - arguments are separated by space, tab or newline; runs of them count once;
 * - a double quote opens a quoted part anywhere, even inside an argument
 *   (`ab"c d"` is one argument, `abc d`), and the closing quote ends the
 *   argument (`"a b"c` is two arguments), so `""` is an empty argument;
 * - inside quotes a backslash takes the next character literally (`\"`, `\\`);
 *   outside quotes a backslash is an ordinary character;
 * - no other character is special: `#` starts a comment only as a line's
 *   first character, which the line reader handles before tokenising.
 *
 * One difference, on purpose: iptables-restore keeps an unterminated quote's
 * text as the last argument without a word; here it is an error, since a
 * dump written by iptables-save always closes its quotes.
 */

export interface Token {
  text: string;
  /** 1-based column of the argument's first character (or of its opening quote). */
  column: number;
  /** Whether any part was quoted: a quoted `"-x"` or `"!"` is a value, never an option. */
  quoted: boolean;
}

export interface TokenizedLine {
  tokens: Token[];
  /** The 1-based column of a quote that is never closed. */
  unterminatedQuoteAt?: number;
}

/** The arguments of `line` from index `from` on (0-based); columns count from the line's start. */
export function tokenizeLine(line: string, from = 0): TokenizedLine {
  const tokens: Token[] = [];
  let text = '';
  let start = -1;
  let quoted = false;
  let quoteOpen = false;
  let quoteColumn = 0;
  let escaped = false;

  const emit = () => {
    tokens.push({ text, column: start + 1, quoted });
    text = '';
    start = -1;
    quoted = false;
  };

  for (let i = from; i < line.length; i++) {
    const ch = line[i];
    if (quoteOpen) {
      if (escaped) {
        text += ch;
        escaped = false;
      } else if (ch === '\\') {
        escaped = true;
      } else if (ch === '"') {
        quoteOpen = false;
        emit();
      } else {
        text += ch;
      }
      continue;
    }
    if (ch === '"') {
      quoteOpen = true;
      quoted = true;
      quoteColumn = i + 1;
      if (start < 0) start = i;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (text.length > 0) emit();
      continue;
    }
    if (start < 0) start = i;
    text += ch;
  }
  if (quoteOpen) return { tokens, unterminatedQuoteAt: quoteColumn };
  if (text.length > 0) emit();
  return { tokens };
}
