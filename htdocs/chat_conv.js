// Conversation features of the chat page: reply (quote, jump to the
// original), history search, copy, image captions and resizing before
// upload. chat.js creates it with window.ChatConv(hooks) and calls it from
// a few places; everything here builds DOM from text (no innerHTML).
(function () {
  'use strict';
  var T = {
    en: { reply: 'Reply', copy: 'Copy', copied: 'Copied', replyingTo: 'Replying to ', cancel: 'Cancel',
          cancelReply: 'Cancel reply', search: 'Search', searchLabel: 'Search messages',
          searchClose: 'Cancel search', searching: 'searching…', noHits: 'No messages found.',
          more: 'More matches: refine the search.', partial: 'Only the newest messages were searched.', gone: 'That message is no longer in the history.',
          original: 'Original', originalTitle: 'Send images at their original size',
          quoteOf: 'Go to the message replied to, by ', results: 'Search results' },
    zh: { reply: '回复', copy: '复制', copied: '已复制', replyingTo: '回复 ', cancel: '取消',
          cancelReply: '取消回复', search: '搜索', searchLabel: '搜索消息', searchClose: '取消搜索',
          searching: '搜索中…', noHits: '没有找到消息。', more: '还有更多结果：请细化搜索。', partial: '只搜索了最新的消息。',
          gone: '该消息已不在历史记录中。', original: '原图', originalTitle: '按原始尺寸发送图片',
          quoteOf: '跳到被回复的消息，作者 ', results: '搜索结果' }
  };
  function tr(k) {
    var l = (document.documentElement.lang || 'en').indexOf('zh') === 0 ? 'zh' : 'en';
    return T[l][k] || T.en[k];
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // controls labelled by key, relabelled when chat.js switches the language
  var labelled = [];
  function label(e, key, attr) {
    labelled.push([e, key, attr]);
    if (attr) e.setAttribute(attr, tr(key)); else e.textContent = tr(key);
    return e;
  }
  new MutationObserver(function () {
    labelled.forEach(function (l) { if (l[2]) l[0].setAttribute(l[2], tr(l[1])); else l[0].textContent = tr(l[1]); });
    document.querySelectorAll('#log .tools button.reply .label').forEach(function (b) { b.textContent = tr('reply'); });
    document.querySelectorAll('#log .tools button.copy .label').forEach(function (b) { b.textContent = tr('copy'); });
  }).observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
  function button(cls, key, labelKey) {
    var b = el('button', cls); b.type = 'button';
    if (key) label(b, key);
    if (labelKey) label(b, labelKey, 'aria-label');
    return b;
  }
  // an icon (icons.js) and a text label, as chat.js draws its message tools
  function iconButton(cls, icon, text) {
    var b = el('button', cls); b.type = 'button';
    if (window.ChatIcons) b.appendChild(window.ChatIcons.make(icon));
    b.appendChild(el('span', 'label', text));
    return b;
  }
  function excerpt(m) {
    var s = m.text || m.caption || m.type || '';
    return s.length > 140 ? s.slice(0, 140) + '\u2026' : s;
  }
  var EXT = { 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/png': 'png' };

  // hooks: send(type, payload), banner(text), log (the message list),
  // info() (the ?info answer), older() (ask for the page before the oldest
  // shown; false when there is none)
  window.ChatConv = function (h) {
    var replying = null, pending = null, text = document.getElementById('text');
    var form = document.getElementById('f');

    // --- reply bar above the composer -----------------------------------------
    var bar = el('div', 'reply-bar'); bar.id = 'reply-bar'; bar.hidden = true;
    var barText = el('span', 'reply-to');
    var barCancel = button('reply-cancel', 'cancel', 'cancelReply');
    bar.appendChild(barText); bar.appendChild(barCancel);
    form.parentNode.insertBefore(bar, form);
    barCancel.onclick = function () { setReply(null); text.focus(); };
    text.addEventListener('keydown', function (e) { if (e.key === 'Escape' && replying) setReply(null); });

    function setReply(m) {
      replying = m;
      bar.hidden = !m;
      barText.textContent = m ? tr('replyingTo') + m.username + ': ' + excerpt(m) : '';
    }

    // --- the "original size" toggle beside the image button -------------------
    var orig = label(el('label', 'orig'), 'originalTitle', 'title');
    var origBox = el('input'); origBox.type = 'checkbox'; origBox.id = 'orig';
    orig.appendChild(origBox); orig.appendChild(document.createTextNode(' ')); orig.appendChild(label(el('span'), 'original'));
    var attach = document.getElementById('attach');
    attach.parentNode.insertBefore(orig, attach.nextSibling);

    // --- jumping to a message, loading older pages until it is shown ----------
    function find(id) { return h.log.querySelector('.msg[data-id="' + CSS.escape(String(id)) + '"]'); }
    function jump(id) {
      var node = find(id);
      if (node) {
        pending = null;
        node.scrollIntoView({ block: 'center' });
        node.classList.remove('flash'); void node.offsetWidth; node.classList.add('flash');
        node.tabIndex = -1; node.focus({ preventScroll: true });
        document.body.dataset.jumped = id;
        return;
      }
      pending = id;
      if (!h.older()) { pending = null; h.banner(tr('gone')); }
    }

    // --- search panel under the header ----------------------------------------
    var panel = el('div', 'search-panel'); panel.id = 'search'; panel.hidden = true;
    panel.setAttribute('role', 'search');
    var sform = el('form'); sform.id = 'search-form';
    var slabel = label(el('label', 'search-label'), 'searchLabel'); slabel.htmlFor = 'search-q';
    var q = el('input'); q.id = 'search-q'; q.type = 'search'; q.maxLength = 100; q.autocomplete = 'off';
    var go = label(el('button'), 'search'); go.type = 'submit';
    var close = button('search-close', 'cancel', 'searchClose');
    [slabel, q, go, close].forEach(function (c) { sform.appendChild(c); });
    var status = el('div', 'search-status'); status.setAttribute('aria-live', 'polite');
    var hits = el('ul', 'search-hits'); hits.id = 'search-hits'; label(hits, 'results', 'aria-label');
    panel.appendChild(sform); panel.appendChild(status); panel.appendChild(hits);
    var top = document.getElementById('top');
    top.parentNode.insertBefore(panel, top.nextSibling);
    var open = iconButton('search-open', 'search', ''); open.id = 'search-open';
    label(open.querySelector('.label'), 'search'); label(open, 'searchLabel', 'aria-label');
    top.insertBefore(open, document.getElementById('lang'));
    function showPanel(on) {
      panel.hidden = !on;
      open.setAttribute('aria-expanded', on ? 'true' : 'false');
      if (on) q.focus(); else open.focus();
    }
    open.onclick = function () { showPanel(panel.hidden); };
    close.onclick = function () { showPanel(false); };
    panel.addEventListener('keydown', function (e) { if (e.key === 'Escape') showPanel(false); });
    sform.onsubmit = function (e) {
      e.preventDefault();
      if (!q.value.trim()) return;
      hits.textContent = ''; status.textContent = tr('searching');
      h.send('search', { query: q.value, limit: 50 });
    };

    function hit(m) {
      var li = el('li'), b = button('hit');
      b.appendChild(el('span', 'who', m.username));
      b.appendChild(el('span', 'when', new Date(m.timestamp).toLocaleString()));
      b.appendChild(el('span', 'text', excerpt(m)));
      b.dataset.id = m.id;
      b.onclick = function () { jump(m.id); };
      li.appendChild(b);
      return li;
    }

    function copy(s, btn) {
      var l = btn.querySelector('.label');
      var done = function () { l.textContent = tr('copied'); setTimeout(function () { l.textContent = tr('copy'); }, 1500); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(s).then(done, function (e) { h.banner(e.message); });
      } else {
        h.banner('clipboard unavailable');
      }
    }

    return {
      // a rendered message gets its quote (when a reply) and Reply / Copy
      decorate: function (m, node) {
        if (m.type === 'system') return;
        var tools = node.querySelector('.tools'), body = node.querySelector('.body');
        if (m.reply && m.reply.id) {
          var quote = button('quote'); quote.title = tr('quoteOf') + m.reply.username;
          quote.appendChild(el('span', 'who', m.reply.username));
          quote.appendChild(el('span', 'excerpt', m.reply.excerpt || ''));
          quote.dataset.id = m.reply.id;
          quote.onclick = function () { jump(m.reply.id); };
          node.insertBefore(quote, body);
        }
        var rb = iconButton('reply', 'reply', tr('reply'));
        rb.onclick = function () { setReply(m); text.focus(); };
        tools.insertBefore(rb, tools.firstChild);
        var s = m.text || m.caption;
        if (s) {
          var cb = iconButton('copy', 'copy', tr('copy'));
          cb.onclick = function () { copy(s, cb); };
          tools.insertBefore(cb, rb.nextSibling);
        }
      },
      // a chat payload about to be sent: it answers the message being replied to
      outgoing: function (payload) {
        if (replying) { payload.replyTo = replying.id; payload.replySeq = replying.seq; setReply(null); }
        return payload;
      },
      // {blob, name} to upload: images larger than ChatImageMaxDimension are
      // scaled down (JPEG stays JPEG, others become WebP, which keeps
      // transparency) unless "Original" is ticked; GIFs keep their frames
      prepareImage: function (file) {
        var inf = h.info() || {}, name = file.name || 'image';
        var max = inf.imageMaxDimension === undefined ? 2048 : inf.imageMaxDimension;
        var keep = Promise.resolve({ blob: file, name: name });
        if (origBox.checked || !max || !window.createImageBitmap ||
            !/^image\/(jpeg|png|webp|bmp)$/.test(file.type)) return keep;
        return createImageBitmap(file).then(function (bmp) {
          var s = max / Math.max(bmp.width, bmp.height);
          if (s >= 1) { bmp.close(); return keep; }
          var c = document.createElement('canvas');
          c.width = Math.max(1, Math.round(bmp.width * s)); c.height = Math.max(1, Math.round(bmp.height * s));
          c.getContext('2d').drawImage(bmp, 0, 0, c.width, c.height);
          bmp.close();
          var type = file.type === 'image/jpeg' ? 'image/jpeg' : 'image/webp';
          return new Promise(function (res) { c.toBlob(res, type, inf.imageQuality || 0.85); }).then(function (blob) {
            if (!blob || !EXT[blob.type]) return keep;
            return { blob: blob, name: name.replace(/\.[^.]*$/, '') + '.' + EXT[blob.type] };
          });
        }).catch(function () { return keep; });
      },
      // a history page arrived: continue a jump waiting for it
      onHistory: function () { if (pending) jump(pending); },
      onSearch: function (p) {
        hits.textContent = '';
        (p.messages || []).forEach(function (m) { hits.appendChild(hit(m)); });
        status.textContent = (!p.messages.length ? tr('noHits') : (p.hasMore ? tr('more') : '')) +
          (p.partial ? ' ' + tr('partial') : '');
      },
      // an error answer: a search waiting for results stops waiting
      onError: function () { if (status.textContent === tr('searching')) status.textContent = ''; }
    };
  };
})();
