// Markdown for chat messages and AI answers: marked (GFM) parses, DOMPurify
// sanitises, highlight.js colours fenced code. All three are vendored under
// /vendor (see vendor/README.md); no build step, nothing evaluated.
// window.ChatMarkdown.render(text) returns HTML that is safe for innerHTML.
(function () {
  'use strict';
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  // Without the libraries (a stale cache, a proxy dropping /vendor) the text
  // is still shown, escaped, with its line breaks.
  function plain(text) { return esc(text).replace(/\n/g, '<br>'); }
  if (!window.marked || !window.DOMPurify) { window.ChatMarkdown = { render: plain }; return; }

  var hljs = window.hljs;
  function highlight(code, lang) {
    lang = (lang || '').split(/\s/)[0].toLowerCase();
    if (hljs && lang && hljs.getLanguage(lang)) {
      return { html: hljs.highlight(code, { language: lang, ignoreIllegals: true }).value, lang: lang };
    }
    // guessing is costly on long text; short blocks only
    if (hljs && code.length <= 3000) {
      var r = hljs.highlightAuto(code);
      return { html: r.value, lang: r.language || '' };
    }
    return { html: esc(code), lang: '' };
  }

  var md = new window.marked.Marked({
    gfm: true,
    breaks: true, // a chat line break is a line break
    renderer: {
      // HTML typed in a message is shown as text, never parsed as HTML:
      // people paste code, and nothing they type becomes markup
      html: function (token) { return esc(token.text); },
      code: function (token) {
        var h = highlight(token.text, token.lang);
        return '<pre><code class="hljs' + (h.lang ? ' language-' + esc(h.lang) : '') + '">' + h.html + '</code></pre>\n';
      }
    }
  });

  // Our own DOMPurify instance: its hooks do not change anyone else's.
  var purify = window.DOMPurify(window);
  var TAGS = ['a', 'p', 'br', 'strong', 'em', 'del', 's', 'code', 'pre', 'span', 'h1', 'h2', 'h3', 'h4', 'h5',
              'h6', 'ul', 'ol', 'li', 'blockquote', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'hr', 'img'];
  var ATTRS = ['href', 'src', 'alt', 'title', 'class', 'align', 'start'];
  function resolve(u) { try { return new URL(u, location.href); } catch (e) { return null; } }
  purify.addHook('afterSanitizeAttributes', function (node) {
    if (node.nodeName === 'A') {
      var href = node.getAttribute('href');
      var u = href !== null && resolve(href);
      if (u && /^(https?|mailto):$/.test(u.protocol)) {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer');
      } else {
        node.removeAttribute('href'); // unwrapped to its text below
      }
    } else if (node.nodeName === 'IMG') {
      // images only from this server: a foreign image would tell its host
      // who reads the room, and when
      var src = node.getAttribute('src');
      var v = src !== null && resolve(src);
      if (!v || v.origin !== location.origin || !/^https?:$/.test(v.protocol)) {
        node.removeAttribute('src');
        if (v && /^https?:$/.test(v.protocol)) node.setAttribute('data-blocked-src', v.href);
      } else {
        node.setAttribute('loading', 'lazy');
      }
    }
  });

  function render(text) {
    // trimmed: a one-line message's text is exactly what was typed
    var frag = purify.sanitize(md.parse(String(text || '')).trim(), {
      ALLOWED_TAGS: TAGS, ALLOWED_ATTR: ATTRS, ALLOW_DATA_ATTR: false, RETURN_DOM_FRAGMENT: true
    });
    // a link that lost its href is just its text
    [].slice.call(frag.querySelectorAll('a:not([href])')).forEach(function (a) {
      while (a.firstChild) a.parentNode.insertBefore(a.firstChild, a);
      a.remove();
    });
    // a foreign image becomes a link the reader may choose to open
    [].slice.call(frag.querySelectorAll('img:not([src])')).forEach(function (img) {
      var url = img.getAttribute('data-blocked-src');
      var label = img.getAttribute('alt') || url || '[image]'; // a data: or odd URL is not shown
      var repl = frag.ownerDocument.createElement(url ? 'a' : 'span');
      repl.className = 'blocked-image';
      repl.textContent = label;
      if (url) { repl.href = url; repl.target = '_blank'; repl.rel = 'noopener noreferrer'; }
      img.replaceWith(repl);
    });
    // serialised in an inert document: nothing loads until the caller inserts it
    var box = frag.ownerDocument.createElement('div');
    box.appendChild(frag);
    return box.innerHTML;
  }
  window.ChatMarkdown = { render: render };
})();
