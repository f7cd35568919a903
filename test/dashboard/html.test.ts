import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from '../../src/dashboard/html.js';

describe('html template', () => {
  it('escapes every interpolated text, in content and in attributes', () => {
    const source = `policy <script>alert("x")</script> & 'more'`;
    const out = html`<td title="${source}">${source}</td>`.text;
    expect(out).toBe(
      '<td title="policy &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;more&#39;">policy &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;more&#39;</td>',
    );
    expect(out).not.toContain('<script>');
  });

  it('keeps nested fragments as they are, escapes the text inside them once, and prints nothing for null, undefined and false', () => {
    const rows = ['a<b', 'c&d'].map((id) => html`<li>${id}</li>`);
    expect(html`<ul>${rows}${null}${undefined}${false}${0}</ul>`.text).toBe('<ul><li>a&lt;b</li><li>c&amp;d</li>0</ul>');
  });

  it('escapes a string that looks like markup even when it came from a fragment\'s text', () => {
    const fragment = html`<b>${'x'}</b>`;
    expect(html`${fragment.text}`.text).toBe('&lt;b&gt;x&lt;/b&gt;');
    expect(escapeHtml('"\'<>&')).toBe('&quot;&#39;&lt;&gt;&amp;');
  });
});
