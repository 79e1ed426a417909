'use strict';
// Telegram "HTML" parse mode: turns marked-up text into plain text + MessageEntity list, and
// rejects what the Bot API rejects. Written from the Bot API documentation and the error texts
// the real server returns ("Unsupported start tag", "Can't find end tag corresponding to start
// tag", ...). One deliberate difference: a bare "&" that starts no valid entity is rejected here
// (the documentation requires &amp;; the real server is more lenient), so the tests catch text
// that was not passed through html.escape.

const TAG_TYPES = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  span: 'spoiler',
  'tg-spoiler': 'spoiler',
  a: 'text_link',
  code: 'code',
  pre: 'pre',
  blockquote: 'blockquote',
  'tg-emoji': 'custom_emoji',
};

const NAMED = { lt: '<', gt: '>', amp: '&', quot: '"' };

class HtmlError extends Error {}

function isSpace(ch) {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v';
}

// Decode an entity starting at text[i] === '&'. Returns [string, nextIndex] or null.
function decodeEntity(text, i) {
  const m = /^&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,7}));/.exec(text.slice(i, i + 12));
  if (!m) return null;
  if (m[1]) return [NAMED[m[1]], i + m[0].length];
  const cp = m[2] !== undefined ? parseInt(m[2], 10) : parseInt(m[3], 16);
  if (!(cp > 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) return null;
  return [String.fromCodePoint(cp), i + m[0].length];
}

function decodeAttr(value) {
  let out = '';
  for (let i = 0; i < value.length;) {
    if (value[i] === '&') {
      const d = decodeEntity(value, i);
      if (d) {
        out += d[0];
        i = d[1];
        continue;
      }
    }
    out += value[i];
    i += 1;
  }
  return out;
}

/**
 * Parse Telegram HTML. Returns {text, entities}; throws HtmlError with the description part that
 * follows "Bad Request: can't parse entities: ".
 */
function parseHtml(text) {
  const byteOffset = (i) => Buffer.byteLength(text.slice(0, i), 'utf8');
  const n = text.length;
  let out = '';
  const stack = [];
  const entities = [];
  let i = 0;
  while (i < n) {
    const ch = text[i];
    if (ch === '&') {
      const d = decodeEntity(text, i);
      if (!d) {
        throw new HtmlError(
          `Unescaped "&" at byte offset ${byteOffset(i)}: `
          + 'write &amp; (or another &lt; &gt; &quot; &#NNN; entity)',
        );
      }
      out += d[0];
      i = d[1];
      continue;
    }
    if (ch === '>') {
      // The real server tolerates a bare ">", and so does this one.
      out += ch;
      i += 1;
      continue;
    }
    if (ch !== '<') {
      out += ch;
      i += 1;
      continue;
    }
    const begin = i;
    if (text[i + 1] === '/') {
      // end tag
      i += 2;
      let j = i;
      while (j < n && !isSpace(text[j]) && text[j] !== '>') j += 1;
      const name = text.slice(i, j).toLowerCase();
      while (j < n && isSpace(text[j])) j += 1;
      if (stack.length === 0) {
        throw new HtmlError(`Unexpected end tag at byte offset ${byteOffset(begin)}`);
      }
      if (j >= n || text[j] !== '>') {
        throw new HtmlError(`Unclosed end tag at byte offset ${byteOffset(begin)}`);
      }
      const top = stack[stack.length - 1];
      if (name !== '' && name !== top.tag) {
        throw new HtmlError(
          `Unmatched end tag at byte offset ${byteOffset(begin)}, expected "</${top.tag}>", found "</${name}>"`,
        );
      }
      stack.pop();
      closeEntity(top, out, entities, stack);
      i = j + 1;
      continue;
    }
    // start tag
    i += 1;
    let j = i;
    while (j < n && !isSpace(text[j]) && text[j] !== '>') j += 1;
    if (j >= n) throw new HtmlError(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
    const tag = text.slice(i, j).toLowerCase();
    if (!Object.prototype.hasOwnProperty.call(TAG_TYPES, tag)) {
      throw new HtmlError(`Unsupported start tag "${tag}" at byte offset ${byteOffset(begin)}`);
    }
    const attrs = {};
    i = j;
    for (;;) {
      while (i < n && isSpace(text[i])) i += 1;
      if (i >= n) throw new HtmlError(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
      if (text[i] === '>') {
        i += 1;
        break;
      }
      let k = i;
      while (k < n && /[A-Za-z0-9_-]/.test(text[k])) k += 1;
      const attrName = text.slice(i, k).toLowerCase();
      if (attrName === '') {
        throw new HtmlError(`Empty attribute name in the tag "${tag}" at byte offset ${byteOffset(begin)}`);
      }
      i = k;
      while (i < n && isSpace(text[i])) i += 1;
      if (i >= n) throw new HtmlError(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
      if (text[i] !== '=') {
        attrs[attrName] = '';
        continue;
      }
      i += 1;
      while (i < n && isSpace(text[i])) i += 1;
      if (i >= n) throw new HtmlError(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
      let value;
      if (text[i] === '"' || text[i] === "'") {
        const quote = text[i];
        const end = text.indexOf(quote, i + 1);
        if (end < 0) throw new HtmlError(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
        value = text.slice(i + 1, end);
        i = end + 1;
      } else {
        let e = i;
        while (e < n && /[A-Za-z0-9.\-_]/.test(text[e])) e += 1;
        if (e === i) {
          throw new HtmlError(
            `Expected equal sign in declaration of an attribute of the tag "${tag}" at byte offset ${byteOffset(begin)}`,
          );
        }
        value = text.slice(i, e);
        i = e;
      }
      attrs[attrName] = decodeAttr(value);
    }
    if (tag === 'span' && attrs.class !== 'tg-spoiler') {
      throw new HtmlError(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(begin)}`);
    }
    if (tag === 'tg-emoji' && !/^[0-9]+$/.test(attrs['emoji-id'] || '')) {
      throw new HtmlError(`Tag "tg-emoji" must have attribute "emoji-id" at byte offset ${byteOffset(begin)}`);
    }
    stack.push({ tag, attrs, start: out.length });
  }
  if (stack.length > 0) {
    throw new HtmlError(`Can't find end tag corresponding to start tag "${stack[stack.length - 1].tag}"`);
  }
  entities.sort((a, b) => (a.offset - b.offset) || (b.length - a.length));
  return { text: out, entities };
}

function closeEntity(open, out, entities, stack) {
  const offset = open.start;
  const length = out.length - offset; // UTF-16 code units, as the Bot API counts them
  const parent = stack[stack.length - 1];
  if (open.tag === 'code' && parent && parent.tag === 'pre') {
    // <pre><code class="language-x">: the language goes on the pre entity
    const cls = open.attrs.class || '';
    if (cls.startsWith('language-')) {
      parent.language = cls.slice('language-'.length);
      return;
    }
  }
  if (length <= 0) return;
  const type = TAG_TYPES[open.tag];
  const entity = { type, offset, length };
  if (type === 'text_link') {
    const href = open.attrs.href;
    if (!href) return;
    const mention = /^tg:\/\/user\?id=([0-9]+)$/.exec(href);
    if (mention) {
      entity.type = 'text_mention';
      entity.user = { id: Number(mention[1]), is_bot: false, first_name: '' };
    } else {
      entity.url = href;
    }
  } else if (type === 'pre' && open.language) {
    entity.language = open.language;
  } else if (type === 'blockquote' && Object.prototype.hasOwnProperty.call(open.attrs, 'expandable')) {
    entity.type = 'expandable_blockquote';
  } else if (type === 'custom_emoji') {
    entity.custom_emoji_id = open.attrs['emoji-id'];
  }
  entities.push(entity);
}

module.exports = { parseHtml, HtmlError };
