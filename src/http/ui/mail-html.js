// A captured message's HTML made safe to look at: the srcdoc of an <iframe sandbox> without
// allow-scripts. Three locks, each enough alone for remote content: every URL that is not data:
// or cid: is taken out of src/srcset/background/poster and CSS url() here; a CSP in the document
// (default-src 'none'); and the dashboard's own CSP, which a srcdoc frame inherits. Scripts
// cannot run (sandbox), and are taken out anyway. DOMParser builds an inert document: nothing in
// it loads or runs while it is cleaned.

/** The policy written into the mail's own document. */
export const MAIL_CSP = "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; font-src data:"

/** What the iframe may do: open a clicked link in a new tab, nothing else (no scripts, no forms, no same origin). */
export const SANDBOX = 'allow-popups allow-popups-to-escape-sandbox'

const LOCAL = /^\s*(data|cid):/i
const DROP = 'script, iframe, frame, frameset, object, embed, applet, link, meta, base, portal'
const URL_ATTRS = ['src', 'background', 'poster', 'data', 'action', 'formaction', 'xlink:href', 'ping', 'manifest', 'lowsrc', 'dynsrc']

/** CSS with every non-local url() made `none` and every @import removed; `blocked` counts them. */
function cleanCss(css, count) {
  return css
    .replace(/@import\s+[^;]*;?/gi, () => {
      count()
      return ''
    })
    .replace(/url\(\s*(['"]?)(.*?)\1\s*\)/gi, (all, _q, url) => {
      if (LOCAL.test(url)) return all
      count()
      return 'none'
    })
}

/** { srcdoc, blocked }: the document to show and how many remote references were taken out. */
export function mailDocument(html) {
  const doc = new DOMParser().parseFromString(html, 'text/html')
  let blocked = 0
  const count = () => blocked++
  for (const el of doc.querySelectorAll(DROP)) {
    if (el.matches('link') && /\S/.test(el.getAttribute('href') ?? '')) count()
    el.remove()
  }
  // handlers first: taking a src out fires the element's error event, even in this inert document
  for (const el of doc.querySelectorAll('*')) {
    for (const attr of [...el.attributes]) if (/^on/i.test(attr.name)) el.removeAttribute(attr.name)
  }
  for (const el of doc.querySelectorAll('*')) {
    const link = el.localName === 'a' || el.localName === 'area'
    for (const attr of [...el.attributes]) {
      const name = attr.name.toLowerCase()
      // href outside a link fetches (SVG <image>, <use>)
      const fetches = URL_ATTRS.includes(name) || (name === 'href' && !link)
      if (name === 'srcset') {
        // a list of candidates ("data:... 1x, https://... 2x"): src is the fallback, so it all goes
        if (/\/\/|^\s*(?!data:|cid:)[a-z][a-z0-9+.-]*:|,\s*(?!data:|cid:)[a-z][a-z0-9+.-]*:/i.test(attr.value)) count()
        el.removeAttribute(attr.name)
      } else if (fetches && !LOCAL.test(attr.value)) {
        if (attr.value.trim()) count()
        el.removeAttribute(attr.name)
        if (name === 'src') el.setAttribute('data-blocked-src', attr.value)
      } else if (name === 'style') el.setAttribute('style', cleanCss(attr.value, count))
    }
    if (el.localName === 'style') el.textContent = cleanCss(el.textContent ?? '', count)
    if (link) {
      const href = el.getAttribute('href') ?? ''
      if (/^\s*(https?:|mailto:)/i.test(href)) {
        el.setAttribute('target', '_blank')
        el.setAttribute('rel', 'noopener noreferrer')
      } else if (!href.trim().startsWith('#')) el.removeAttribute('href')
    }
  }
  const csp = doc.createElement('meta')
  csp.setAttribute('http-equiv', 'Content-Security-Policy')
  csp.setAttribute('content', MAIL_CSP)
  doc.head.prepend(csp)
  return { srcdoc: `<!doctype html>\n${doc.documentElement.outerHTML}`, blocked }
}
