import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';
import TurndownService from 'turndown';

export interface ReadablePage {
  title: string;
  markdown: string;
  /** false when Readability found no article and the whole body was converted instead. */
  article: boolean;
}

/** Elements that never carry readable text; dropped before the whole-body fallback. */
const NON_CONTENT = 'script, style, noscript, template, iframe, object, embed, svg, canvas';

const turndown = new TurndownService({ headingStyle: 'atx', codeBlockStyle: 'fenced', bulletListMarker: '-', emDelimiter: '_' });
turndown.remove(['script', 'style', 'noscript', 'template', 'iframe', 'object', 'embed']);

/**
 * The page's title and main content as Markdown: Readability picks the article, Turndown
 * converts it. Pages without a recognisable article (link lists, short pages) are converted whole.
 * Links and images are made absolute against the page URL (or its `<base href>`).
 */
export function htmlToMarkdown(html: string, pageUrl: URL): ReadablePage {
  const { document } = parseHTML(html);
  const title = (document.title ?? '').trim();
  absolutizeLinks(document, pageUrl);
  // linkedom documents have no documentURI, so Readability cannot resolve links itself (done above).
  const found = new Readability(document as never).parse();
  const articleText = found?.textContent?.trim() ?? '';
  if (found?.content && articleText !== '') {
    return { title: found.title?.trim() || title, markdown: toMarkdown(found.content), article: true };
  }

  // Readability empties parts of the document it scores, so the fallback starts from a fresh parse.
  const { document: whole } = parseHTML(html);
  absolutizeLinks(whole, pageUrl);
  for (const element of [...whole.querySelectorAll(NON_CONTENT)]) element.remove();
  const body = whole.body?.innerHTML ?? whole.documentElement?.innerHTML ?? '';
  return { title, markdown: toMarkdown(body), article: false };
}

function toMarkdown(html: string): string {
  return turndown
    .turndown(html)
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

type ParsedDocument = ReturnType<typeof parseHTML>['document'];

/**
 * Links are kept only with web or mail targets (javascript: and the like lose their href, keeping
 * the text); images only with web sources (a data: URI could be megabytes of base64 in the result).
 */
function absolutizeLinks(document: ParsedDocument, pageUrl: URL): void {
  const base = baseUrlOf(document, pageUrl);
  for (const link of [...document.querySelectorAll('a[href]')]) {
    const target = resolve(link.getAttribute('href') ?? '', base);
    if (target && ['http:', 'https:', 'mailto:'].includes(target.protocol)) link.setAttribute('href', target.href);
    else link.removeAttribute('href');
  }
  for (const image of [...document.querySelectorAll('img')]) {
    const source = resolve(image.getAttribute('src') ?? '', base);
    if (source && (source.protocol === 'http:' || source.protocol === 'https:')) image.setAttribute('src', source.href);
    else image.removeAttribute('src');
  }
}

function baseUrlOf(document: ParsedDocument, pageUrl: URL): URL {
  const declared = resolve(document.querySelector('base[href]')?.getAttribute('href') ?? '', pageUrl);
  return declared && (declared.protocol === 'http:' || declared.protocol === 'https:') ? declared : pageUrl;
}

function resolve(reference: string, base: URL): URL | undefined {
  if (reference.trim() === '') return undefined;
  try {
    return new URL(reference.trim(), base);
  } catch {
    return undefined;
  }
}
