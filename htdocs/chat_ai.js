// The AI in the page: Explain/Describe with a choice of the configured
// providers and an answer box with Copy and Close; a streamed room answer
// growing in place (ai_partial); the "@" pop-up of room members and bots.
// Plain JS, no build step; chat.js creates it with window.ChatAI({...}).
(function () {
  'use strict';
  var T = {
    en: { copy: 'Copy', copied: 'Copied', close: 'Close', askWith: 'Ask', mentions: 'People and bots',
          bot: 'AI', aiFailed: 'AI: ', thinking: 'thinking…' },
    zh: { copy: '复制', copied: '已复制', close: '关闭', askWith: '询问', mentions: '成员和机器人',
          bot: 'AI', aiFailed: 'AI：', thinking: '思考中…' }
  };

  window.ChatAI = function (ctx) {
    // ctx: prefix, room, ident(), info(), lang(), user(), markdown(text), el(tag, cls, text),
    //      banner(text), node(id) -> the message element shown for id, or undefined
    var t = function (k) { return (T[ctx.lang()] || T.en)[k] || T.en[k]; };
    var members = [];
    var menuSeq = 0;

    function providers() { var ai = ctx.info().ai; return (ai && ai.chat) || []; }

    // --- Explain / Describe ---------------------------------------------------
    // The answer under the message, with the provider's name, Copy and Close.
    function answerBox(node, j, provider) {
      var text = j.explanation || j.description || '';
      var box = ctx.el('div', 'ai-answer');
      box.dataset.provider = j.provider || provider || '';
      var head = ctx.el('div', 'ai-head');
      head.appendChild(ctx.el('span', 'ai-who', (j.provider || provider || '') + (j.model ? ' · ' + j.model : '')));
      var copy = ctx.el('button', 'ai-copy', t('copy')); copy.type = 'button';
      copy.onclick = function () {
        navigator.clipboard.writeText(text).then(function () {
          copy.textContent = t('copied');
          setTimeout(function () { copy.textContent = t('copy'); }, 1500);
        }, function (e) { ctx.banner(t('aiFailed') + e.message); });
      };
      var close = ctx.el('button', 'ai-close', t('close')); close.type = 'button';
      close.setAttribute('aria-label', t('close') + ' ' + (j.provider || ''));
      close.onclick = function () { box.remove(); };
      head.appendChild(copy); head.appendChild(close);
      var body = ctx.el('div', 'ai-text'); body.innerHTML = ctx.markdown(text);
      box.appendChild(head); box.appendChild(body);
      node.appendChild(box);
    }

    function request(m, node, provider) {
      var isImage = m.type === 'image';
      var payload = isImage ? { imageUrl: m.imageUrl, roomName: ctx.room } : { text: m.text, roomName: ctx.room };
      if (provider) payload.model = provider;
      // under the page's own prefix (/chat by default), like the socket and uploads
      fetch(ctx.prefix + '/ai/' + (isImage ? 'describe-image' : 'explain') + '?' + ctx.ident(), {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(payload)
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) throw new Error(j.error || ('AI is not available (' + r.status + ')'));
          return j;
        });
      }).then(function (j) { answerBox(node, j, provider); })
        .catch(function (e) { ctx.banner(t('aiFailed') + e.message); });
    }

    function closeMenus() {
      document.querySelectorAll('.ai-menu').forEach(function (x) { x.remove(); });
    }

    // Explain (text) or Describe (image): with one provider it asks at once,
    // with several a small menu offers them, the configured default first.
    function ask(m, node, button) {
      var list = providers().slice(), info = ctx.info().ai || {};
      var dflt = m.type === 'image' ? info.describeProvider : info.explainProvider;
      closeMenus();
      if (list.length < 2) return request(m, node, list[0]);
      if (dflt && list.indexOf(dflt) > 0) { list.splice(list.indexOf(dflt), 1); list.unshift(dflt); }
      var menu = ctx.el('div', 'ai-menu');
      menu.id = 'ai-menu-' + (++menuSeq);
      menu.setAttribute('role', 'menu');
      menu.setAttribute('aria-label', t('askWith'));
      list.forEach(function (name) {
        var b = ctx.el('button', 'ai-pick', name); b.type = 'button';
        b.setAttribute('role', 'menuitem'); b.dataset.provider = name;
        b.onclick = function () { menu.remove(); request(m, node, name); if (button) button.focus(); };
        menu.appendChild(b);
      });
      menu.addEventListener('keydown', function (e) {
        var items = [].slice.call(menu.querySelectorAll('button')), i = items.indexOf(document.activeElement);
        if (e.key === 'Escape') { e.preventDefault(); menu.remove(); if (button) button.focus(); }
        else if (e.key === 'ArrowDown' || e.key === 'ArrowRight') { e.preventDefault(); items[(i + 1) % items.length].focus(); }
        else if (e.key === 'ArrowUp' || e.key === 'ArrowLeft') { e.preventDefault(); items[(i - 1 + items.length) % items.length].focus(); }
      });
      if (button) { button.setAttribute('aria-haspopup', 'menu'); button.setAttribute('aria-controls', menu.id); }
      (button && button.parentNode ? button.parentNode : node).after(menu);
      menu.querySelector('button').focus();
    }

    // --- a streamed room answer -------------------------------------------------
    // {id, text}: the bot message with that id shows the text so far; an id
    // not shown (joined mid-answer) waits for the final message.
    function partial(p) {
      var node = ctx.node(p.id), body = node && node.querySelector('.body');
      if (!body || typeof p.text !== 'string') return;
      body.innerHTML = ctx.markdown(p.text);
      node.classList.add('streaming');
    }

    // --- the @ pop-up -----------------------------------------------------------
    var box = null, pop = null, items = [], active = -1, at = -1;

    function candidates(word) {
      var out = [], w = word.toLowerCase(), aliases = (ctx.info().ai && ctx.info().ai.aliases) || {};
      members.forEach(function (u) {
        if (u !== ctx.user() && u.toLowerCase().indexOf(w) === 0) out.push({ insert: u, label: u, kind: 'person' });
      });
      providers().forEach(function (name) {
        var al = aliases[name] || [];
        var hit = al.filter(function (a) { return a.toLowerCase().indexOf(w) === 0; })[0];
        if (al.length && hit !== undefined) {
          out.push({ insert: al[0], label: name, kind: 'bot', hint: al.map(function (a) { return '@' + a; }).join(' ') });
        }
      });
      return out;
    }

    function hide() {
      if (!pop) return;
      pop.hidden = true; items = []; active = -1; at = -1;
      box.removeAttribute('aria-activedescendant');
      box.setAttribute('aria-expanded', 'false');
    }

    function highlight(i) {
      active = i;
      [].forEach.call(pop.children, function (li, k) { li.setAttribute('aria-selected', k === i ? 'true' : 'false'); });
      if (pop.children[i]) { box.setAttribute('aria-activedescendant', pop.children[i].id); pop.children[i].scrollIntoView({ block: 'nearest' }); }
    }

    function choose(i) {
      var c = items[i];
      if (!c) return hide();
      var caret = box.selectionStart, before = box.value.slice(0, at), after = box.value.slice(caret);
      var ins = '@' + c.insert + ' ';
      box.value = before + ins + after.replace(/^\S*/, '');
      box.selectionStart = box.selectionEnd = before.length + ins.length;
      hide();
      box.focus();
    }

    function update() {
      var upto = box.value.slice(0, box.selectionStart), mt = /(^|\s)@([^\s@]*)$/.exec(upto);
      if (!mt) return hide();
      at = upto.length - mt[2].length - 1;
      items = candidates(mt[2]);
      if (!items.length) return hide();
      pop.textContent = '';
      items.forEach(function (c, k) {
        var li = ctx.el('li', 'mention ' + c.kind);
        li.id = 'mention-' + k; li.setAttribute('role', 'option');
        li.appendChild(ctx.el('span', 'mention-name', c.label));
        li.appendChild(ctx.el('span', 'mention-hint', c.kind === 'bot' ? t('bot') + ' ' + c.hint : '@' + c.insert));
        li.addEventListener('mousedown', function (e) { e.preventDefault(); choose(k); });
        pop.appendChild(li);
      });
      pop.hidden = false;
      box.setAttribute('aria-expanded', 'true');
      highlight(0);
    }

    function mentions(textarea, form) {
      box = textarea;
      pop = ctx.el('ul', 'mention-pop');
      pop.id = 'mention-pop'; pop.hidden = true;
      pop.setAttribute('role', 'listbox'); pop.setAttribute('aria-label', t('mentions'));
      form.appendChild(pop);
      box.setAttribute('role', 'combobox');
      box.setAttribute('aria-autocomplete', 'list');
      box.setAttribute('aria-controls', pop.id);
      box.setAttribute('aria-expanded', 'false');
      box.addEventListener('input', update);
      box.addEventListener('click', update);
      box.addEventListener('blur', function () { setTimeout(hide, 150); });
      // on the form, capturing: before the box's own Enter-sends handler
      form.addEventListener('keydown', function (e) {
        if (e.target !== box || !pop || pop.hidden) return;
        if (e.key === 'ArrowDown') highlight((active + 1) % items.length);
        else if (e.key === 'ArrowUp') highlight((active - 1 + items.length) % items.length);
        else if (e.key === 'Enter' || e.key === 'Tab') choose(active);
        else if (e.key === 'Escape') hide();
        else return;
        e.preventDefault(); e.stopPropagation();
      }, true);
    }

    document.addEventListener('click', function (e) {
      if (!e.target.closest('.ai-menu') && !e.target.closest('button.ai')) closeMenus();
    });

    return {
      ask: ask,
      partial: partial,
      mentions: mentions,
      members: function (list) { members = list.slice(); }
    };
  };
})();
