import DOMPurify from 'dompurify';
import { Marked } from 'marked';
import { highlightCode } from './highlight';

const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    code({ text, lang }) {
      const { html, language } = highlightCode(text.replace(/\n$/, ''), lang);
      return `<pre><code class="hljs${language ? ` language-${language}` : ''}">${html}</code></pre>\n`;
    },
    // A task list's box as a symbol, not a form control (inputs are not allowed in model output).
    checkbox({ checked }) {
      return `<span class="task-box" role="img" aria-label="${checked ? 'done' : 'to do'}">${checked ? '☑' : '☐'}</span> `;
    },
  },
});

// Model output is untrusted: links leave the app in a new tab without a referrer.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.getAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

/** Markdown → sanitised HTML. */
export function renderMarkdown(source: string): string {
  const html = marked.parse(source) as string;
  return DOMPurify.sanitize(html, { FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'], FORBID_ATTR: ['style'] });
}
