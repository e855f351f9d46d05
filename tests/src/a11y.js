// Accessibility checks run inside a page: the part of WCAG 2.1 AA a machine
// can decide from the DOM and computed styles alone.
//
// browser.rs appends `return a11yViolations();` and runs the whole file with
// WebDriver's execute/sync; the result is a list of {rule, target, detail}.
// Written for this project (no dependencies, no network): a page passing it
// can still fail an audit by a person, but a page failing it has a real
// problem.
//
// Deliberate limits, each erring towards silence rather than false alarms:
// - contrast skips text over background images and ignores positioned
//   overlap, text-shadow and ancestor opacity between 0 and 1; the canvas
//   below the page is taken to be white;
// - accessible names follow the order of accname 1.2 for the sources listed
//   per rule, not every corner of it (no CSS generated content, no
//   embedded-control values);
// - focus-visible compares computed styles with and without focus, with
//   transitions switched off so the focused style is the final one; a change
//   outside the compared properties (an underline, a moved skip link) goes
//   unseen and is reported.

function a11yViolations() {
  'use strict';

  const out = [];
  const report = (rule, target, detail) =>
    out.push({ rule, target: typeof target === 'string' ? target : pathOf(target), detail });

  // A short selector-like path: up to four steps, ending early at an element
  // whose id is unique.
  function pathOf(el) {
    if (el === document.documentElement) return 'html';
    const parts = [];
    for (let e = el; e && e.nodeType === Node.ELEMENT_NODE && parts.length < 4; e = e.parentElement) {
      if (e === document.body || e === document.documentElement) {
        if (parts.length === 0) parts.push(e.localName);
        break;
      }
      let step = e.localName;
      const id = e.getAttribute('id');
      if (id) {
        step += '#' + CSS.escape(id);
        if (document.querySelectorAll('#' + CSS.escape(id)).length === 1) {
          parts.unshift(step);
          break;
        }
      } else if (e.classList.length > 0) {
        step += '.' + CSS.escape(e.classList[0]);
      }
      const parent = e.parentElement;
      if (parent) {
        const same = Array.from(parent.children).filter((c) => c.localName === e.localName);
        if (same.length > 1) step += ':nth-of-type(' + (same.indexOf(e) + 1) + ')';
      }
      parts.unshift(step);
    }
    return parts.join(' > ');
  }

  // In the accessibility tree: rendered (no display:none or
  // visibility:hidden on the way up) and not hidden by aria-hidden or inert.
  // Opacity 0 does not count: such an element is still read out.
  function exposed(el) {
    if (el.closest('[aria-hidden="true"], [inert]')) return false;
    if (typeof el.checkVisibility === 'function') {
      return el.checkVisibility({ visibilityProperty: true, checkVisibilityCSS: true });
    }
    return el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  }

  // Seen on screen: exposed, not transparent, and of some size.
  function visible(el) {
    if (!exposed(el)) return false;
    if (typeof el.checkVisibility === 'function') {
      if (!el.checkVisibility({ opacityProperty: true, checkOpacity: true })) return false;
    } else {
      for (let e = el; e; e = e.parentElement) {
        if (parseFloat(getComputedStyle(e).opacity) === 0) return false;
      }
    }
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  }

  const hasText = (s) => typeof s === 'string' && s.trim() !== '';

  // The text an element's content gives its name: text nodes, alt of
  // images, names of SVGs; hidden parts and form controls (inside a label)
  // add nothing.
  function contentName(node) {
    let s = '';
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) {
        s += child.data;
        continue;
      }
      if (child.nodeType !== Node.ELEMENT_NODE) continue;
      if (child.getAttribute('aria-hidden') === 'true') continue;
      const style = getComputedStyle(child);
      if (style.display === 'none' || style.visibility === 'hidden') continue;
      if (hasText(child.getAttribute('aria-label'))) {
        s += ' ' + child.getAttribute('aria-label') + ' ';
      } else if (child.localName === 'img') {
        s += ' ' + (child.getAttribute('alt') || '') + ' ';
      } else if (child.localName === 'svg') {
        s += ' ' + svgName(child) + ' ';
      } else if (!['input', 'select', 'textarea', 'button'].includes(child.localName)) {
        s += ' ' + contentName(child) + ' ';
      }
    }
    return s;
  }

  // aria-labelledby's text, and the ids it names that are missing or empty.
  function labelledBy(el) {
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean);
    let text = '';
    const broken = [];
    for (const id of ids) {
      const ref = document.getElementById(id);
      const t = ref ? ref.getAttribute('aria-label') || contentName(ref) : '';
      if (hasText(t)) text += ' ' + t;
      else broken.push(id);
    }
    return { text, broken, named: ids.length > 0 };
  }

  function svgName(svg) {
    const lb = labelledBy(svg);
    if (hasText(lb.text)) return lb.text;
    if (hasText(svg.getAttribute('aria-label'))) return svg.getAttribute('aria-label');
    const title = Array.from(svg.children).find((c) => c.localName === 'title');
    return title ? title.textContent : '';
  }

  // The accessible name from the sources `fromLabels` (form controls) or
  // `fromContent` (buttons, links) allow, plus aria-labelledby, aria-label
  // and title; with a note on a broken aria-labelledby for the detail.
  function accessibleName(el, { fromLabels, fromContent }) {
    const lb = labelledBy(el);
    if (hasText(lb.text)) return { name: lb.text };
    const note = lb.broken.length
      ? '; aria-labelledby names ' + lb.broken.map((id) => JSON.stringify(id)).join(', ') +
        ', missing or empty'
      : '';
    if (hasText(el.getAttribute('aria-label'))) return { name: el.getAttribute('aria-label') };
    if (fromLabels && el.labels) {
      const text = Array.from(el.labels).map(contentName).join(' ');
      if (hasText(text)) return { name: text };
    }
    if (fromContent) {
      const text = contentName(el);
      if (hasText(text)) return { name: text };
    }
    if (hasText(el.getAttribute('title'))) return { name: el.getAttribute('title') };
    return { name: '', note };
  }

  const describe = (el) => {
    const type = el.localName === 'input' ? '[type=' + (el.getAttribute('type') || 'text') + ']' : '';
    return '<' + el.localName + type + '>';
  };

  // html-lang: the page's language, so a screen reader picks its voice.
  {
    const lang = document.documentElement.getAttribute('lang');
    if (!hasText(lang)) {
      report('html-lang', 'html', '<html> has no lang attribute');
    } else if (!/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$/.test(lang.trim())) {
      report('html-lang', 'html', 'lang="' + lang + '" is not a language tag');
    }
  }

  // document-title
  if (!hasText(document.title)) {
    report('document-title', 'head', 'the page has no <title> or an empty one');
  }

  // landmark-main: one main landmark (more are allowed only when hidden).
  {
    const mains = Array.from(document.querySelectorAll('main, [role="main"]')).filter(exposed);
    if (mains.length !== 1) {
      report(
        'landmark-main',
        'body',
        mains.length === 0
          ? 'no <main> landmark'
          : mains.length + ' main landmarks: ' + mains.map(pathOf).join(', '),
      );
    }
  }

  // heading-h1 and heading-order
  {
    const headings = Array.from(
      document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role="heading"]'),
    ).filter(exposed);
    const levelOf = (h) =>
      h.getAttribute('role') === 'heading'
        ? parseInt(h.getAttribute('aria-level'), 10) || 2
        : parseInt(h.localName.slice(1), 10);
    if (!headings.some((h) => levelOf(h) === 1)) {
      report(
        'heading-h1',
        'body',
        headings.length === 0
          ? 'no headings at all'
          : 'no level-1 heading; the first is ' + pathOf(headings[0]) + ' (level ' +
            levelOf(headings[0]) + ')',
      );
    }
    let previous = null;
    for (const h of headings) {
      const level = levelOf(h);
      if (previous !== null && level > previous + 1) {
        report('heading-order', h, 'level ' + level + ' follows level ' + previous);
      }
      previous = level;
    }
  }

  // img-alt: every image says what it shows, or alt="" that it is decoration.
  for (const img of document.querySelectorAll('img')) {
    if (!img.hasAttribute('alt') && exposed(img)) {
      report('img-alt', img, '<img> without an alt attribute (alt="" for decoration)');
    }
  }
  for (const svg of document.querySelectorAll('svg[role="img"]')) {
    if (exposed(svg) && !hasText(svgName(svg))) {
      report('img-alt', svg, '<svg role="img"> without aria-label, aria-labelledby or <title>');
    }
  }

  // label: form fields.
  {
    const fields = document.querySelectorAll(
      'input:not([type="hidden"]):not([type="submit"]):not([type="button"])' +
        ':not([type="image"]):not([type="reset"]), select, textarea',
    );
    for (const el of fields) {
      if (!exposed(el)) continue;
      const { name, note } = accessibleName(el, { fromLabels: true, fromContent: false });
      if (!hasText(name)) {
        report(
          'label',
          el,
          describe(el) + ' has no accessible name (aria-label, aria-labelledby, <label> or title)' +
            note,
        );
      }
    }
  }

  // name: buttons and links.
  for (const el of document.querySelectorAll('button, a[href], [role="button"]')) {
    if (!exposed(el)) continue;
    const { name, note } = accessibleName(el, { fromLabels: true, fromContent: true });
    if (!hasText(name)) {
      report(
        'name',
        el,
        describe(el) + ' has no accessible name (text, aria-label, aria-labelledby, alt of an ' +
          'image inside, or title)' + note,
      );
    }
  }

  // duplicate-id: references (labels, aria-*) reach only the first.
  {
    const count = new Map();
    for (const el of document.querySelectorAll('[id]')) {
      const id = el.getAttribute('id');
      if (id !== '') count.set(id, (count.get(id) || 0) + 1);
    }
    for (const [id, n] of count) {
      if (n > 1) report('duplicate-id', '#' + CSS.escape(id), 'id "' + id + '" is on ' + n + ' elements');
    }
  }

  // tabindex: a positive one takes the element out of reading order.
  for (const el of document.querySelectorAll('[tabindex]')) {
    const t = parseInt(el.getAttribute('tabindex'), 10);
    if (t > 0) report('tabindex', el, 'tabindex="' + el.getAttribute('tabindex') + '" is positive');
  }

  // contrast
  {
    const canvas = document.createElement('canvas');
    canvas.width = 1;
    canvas.height = 1;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });

    // [r, g, b, a] with r, g, b in 0..255 and a in 0..1, or null.
    const parseColor = (s) => {
      const m = s.match(
        /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:\s*[,/]\s*([\d.]+)(%?))?\s*\)$/,
      );
      if (m) {
        const a = m[4] === undefined ? 1 : parseFloat(m[4]) / (m[5] ? 100 : 1);
        return [+m[1], +m[2], +m[3], a];
      }
      // Other notations (oklch(), color()): let the canvas convert to sRGB.
      ctx.clearRect(0, 0, 1, 1);
      ctx.fillStyle = 'rgba(0, 0, 0, 0)';
      ctx.fillStyle = s;
      ctx.fillRect(0, 0, 1, 1);
      const d = ctx.getImageData(0, 0, 1, 1).data;
      return [d[0], d[1], d[2], d[3] / 255];
    };
    const over = (top, bottom) => {
      const a = top[3];
      return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1);
    };
    const luminance = (c) => {
      const lin = c.slice(0, 3).map((v) => {
        const s = v / 255;
        return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
      });
      return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
    };
    const hex = (c) =>
      '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');

    // The opaque colour behind `el`, or null when an image is part of it.
    const background = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const style = getComputedStyle(e);
        if (style.backgroundImage !== 'none') return null;
        const c = parseColor(style.backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
      }
      let result = [255, 255, 255, 1];
      for (let i = layers.length - 1; i >= 0; i--) result = over(layers[i], result);
      return result;
    };

    const checked = new Set();
    const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const text = walker.currentNode;
      const el = text.parentElement;
      if (!el || checked.has(el) || !hasText(text.data)) continue;
      checked.add(el);
      if (['script', 'style', 'noscript', 'template', 'title'].includes(el.localName)) continue;
      if (el.closest(':disabled, [aria-disabled="true"]')) continue;
      if (!visible(el)) continue;
      const style = getComputedStyle(el);
      const fg = parseColor(style.color);
      if (fg[3] === 0) continue;
      const bg = background(el);
      if (bg === null) continue;
      const fgOnBg = over(fg, bg);
      const l1 = luminance(fgOnBg);
      const l2 = luminance(bg);
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const size = parseFloat(style.fontSize);
      const weight = parseInt(style.fontWeight, 10) || 400;
      const large = size >= 24 || (size >= 18.66 && weight >= 700);
      const needed = large ? 3 : 4.5;
      if (ratio < needed) {
        report(
          'contrast',
          el,
          'contrast ' + ratio.toFixed(2) + ':1 (' + hex(fgOnBg) + ' on ' + hex(bg) + ', ' +
            size + 'px, weight ' + weight + '), needs ' + needed + ':1',
        );
      }
    }
  }

  // focus-visible: focusing must change how the element looks.
  {
    const candidates = Array.from(
      document.querySelectorAll(
        'a[href], button, input, select, textarea, [tabindex="0"], video[controls]',
      ),
    )
      .filter((el) => !el.matches(':disabled') && !(el.localName === 'input' && el.type === 'hidden'))
      .filter(visible)
      .slice(0, 200);
    const look = (el) => {
      const s = getComputedStyle(el);
      // An outline's colour shows only while it has a style.
      const outline =
        s.outlineStyle === 'none' ? 'none' : [s.outlineStyle, s.outlineWidth, s.outlineColor].join(' ');
      return {
        outline,
        'box-shadow': s.boxShadow,
        'border-color': [s.borderTopColor, s.borderRightColor, s.borderBottomColor, s.borderLeftColor].join(' '),
        'background-color': s.backgroundColor,
      };
    };
    // A constructed sheet, not a <style> element: pages under a strict Content
    // Security Policy (ours: style-src 'self') refuse inline style elements, and
    // the refusal would show up as a console error the tests look for.
    const noTransitions = new CSSStyleSheet();
    noTransitions.replaceSync('*, *::before, *::after { transition: none !important; animation: none !important; }');
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, noTransitions];
    try {
      for (const el of candidates) {
        if (document.activeElement && document.activeElement !== document.body) {
          document.activeElement.blur();
        }
        const before = look(el);
        try {
          el.focus({ preventScroll: true, focusVisible: true });
        } catch (_) {
          el.focus();
        }
        if (document.activeElement !== el) continue;
        const after = look(el);
        el.blur();
        if (Object.keys(before).every((k) => before[k] === after[k])) {
          report(
            'focus-visible',
            el,
            describe(el) + ' looks the same focused (outline ' + after.outline + ', box-shadow ' +
              after['box-shadow'] + ')',
          );
        }
      }
    } finally {
      document.adoptedStyleSheets = document.adoptedStyleSheets.filter((sheet) => sheet !== noTransitions);
      if (document.activeElement && document.activeElement !== document.body) {
        document.activeElement.blur();
      }
    }
  }

  return out;
}
