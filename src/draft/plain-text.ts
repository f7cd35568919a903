/**
 * A policy as lines of plain text, whatever it was written in: HTML tags and Markdown
 * marks removed, entities decoded. A line that was a heading in the markup (`<h2>`, `## `)
 * says so; in plain text, headings are recognised later from their look (sentences.ts).
 */
export interface PlainLine {
  text: string;
  /** True when the markup marked the line as a heading. */
  heading?: true;
}

const HEADING_START = '\u0001';

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', ndash: '–', mdash: '—', rsquo: '’', lsquo: '‘', rdquo: '”', ldquo: '“', hellip: '…' };

/** True when the text looks like HTML: tags, not a lone "<" in prose. */
export function looksLikeHtml(text: string): boolean {
  return /<\/?(?:html|body|p|div|br|h[1-6]|ul|ol|li|table|tr|td|span|section|article|strong|em|a)\b[^>]*>/i.test(text);
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** HTML to text: scripts, styles and comments dropped, block elements end lines, headings marked. */
function stripHtml(html: string): string {
  return decodeEntities(
    html
      .replace(/<!--[\s\S]*?-->/g, ' ')
      .replace(/<(script|style|head|template)\b[\s\S]*?<\/\1\s*>/gi, ' ')
      .replace(/<h[1-6]\b[^>]*>/gi, `\n${HEADING_START}`)
      .replace(/<\/h[1-6]\s*>/gi, '\n')
      .replace(/<br\s*\/?>/gi, '\n')
      .replace(/<\/?(?:p|div|li|ul|ol|tr|table|section|article|header|footer|blockquote|dt|dd|main|nav)\b[^>]*>/gi, '\n')
      .replace(/<\/?(?:td|th)\b[^>]*>/gi, ' | ')
      .replace(/<[^>]+>/g, '')
      .replace(/[ \t\f\v\u00a0]+/g, ' '),
  );
}

/** One line of Markdown as text: list markers, emphasis, code marks, links and images. */
function stripMarkdownLine(line: string): string {
  return line
    .replace(/^\s{0,3}>\s?/, '')
    .replace(/^\s*[-*+]\s+(?:\[[ xX]\]\s+)?/, '')
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1')
    .replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, '$2')
    .replace(/(?<![\p{L}\d])([*_])(?=\S)([^*_]*?\S)\1(?![\p{L}\d])/gu, '$2')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/~~(.*?)~~/g, '$1');
}

/** The policy as lines of plain text (blank lines kept: they end paragraphs). */
export function toPlainLines(text: string): PlainLine[] {
  const source = looksLikeHtml(text) ? stripHtml(text) : text;
  const out: PlainLine[] = [];
  let fence = false;
  for (const raw of source.replace(/\r\n?/g, '\n').split('\n')) {
    if (/^\s*(```|~~~)/.test(raw)) {
      fence = !fence;
      continue;
    }
    // Code in a policy is not prose; a fenced block states no promise.
    if (fence) continue;
    if (raw.startsWith(HEADING_START)) {
      out.push({ text: raw.slice(1).trim(), heading: true });
      continue;
    }
    const atx = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw);
    if (atx) {
      out.push({ text: stripMarkdownLine(atx[1]!), heading: true });
      continue;
    }
    // Setext underlines (=== / ---) and rules mark the line above or nothing.
    if (/^\s*(?:={3,}|-{3,}|\*{3,}|_{3,})\s*$/.test(raw)) {
      const previous = out.at(-1);
      if (/^\s*[=-]{3,}\s*$/.test(raw) && previous && previous.text !== '' && !previous.heading) previous.heading = true;
      out.push({ text: '' });
      continue;
    }
    // A Markdown table's separator row (|---|:--:|) says nothing.
    if (/^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(raw)) continue;
    out.push({ text: stripMarkdownLine(raw).trim() });
  }
  return out;
}
