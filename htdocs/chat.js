// The mod_chat browser client. Plain JS, no build step. Everything a user
// writes is rendered through markdown.js (marked + DOMPurify + highlight.js);
// control icons come from icons.js.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var T = {
    en: { online: 'Online', send: 'Send', message: 'Message', connecting: 'connecting…',
          theme: 'Light or dark theme', viewer: 'Image, click or Escape to close',
          reconnecting: 'reconnecting…', notAllowed: 'not allowed', joined: ' joined',
          left: ' left', del: 'Delete', explain: 'Explain', describe: 'Describe',
          older: 'older messages…', today: 'Today', name: 'Your name?', users: ' online',
          uploadFailed: 'Upload failed: ', aiFailed: 'AI: ', recording: 'recording… tap to stop',
          image: 'Image', voice: 'Voice', accept: 'Accept', decline: 'Decline', hangup: 'Hang up',
          audioCall: 'Audio call', videoCall: 'Video call', call_calling: 'calling…',
          call_ringing: 'is calling you', call_connecting: 'connecting…', call_connected: 'connected',
          callFailed: 'The call failed.', noAnswer: 'No answer.', callDeclined: 'The call was declined.',
          callBusy: 'The other side is in another call.', callEnded: 'The call ended.',
          noCalls: 'This browser cannot make calls.', signIn: 'Please sign in to chat.',
          unreachable: 'The chat server cannot be reached; retrying…', askAI: 'Ask AI',
          restartWait: 'server restarting; reconnecting in {n} s', serverFull: 'server full, retrying in {n} s' },
    zh: { online: '在线', send: '发送', message: '消息', connecting: '连接中…',
          theme: '浅色或深色主题', viewer: '图片，点击或按 Esc 关闭',
          reconnecting: '重新连接中…', notAllowed: '无权访问', joined: ' 加入了', left: ' 离开了',
          del: '删除', explain: '解释', describe: '描述', older: '更早的消息…', today: '今天',
          name: '你的名字？', users: ' 人在线', uploadFailed: '上传失败：', aiFailed: 'AI：',
          recording: '录音中… 点击停止', image: '图片', voice: '语音', accept: '接听', decline: '拒绝',
          hangup: '挂断', audioCall: '语音通话', videoCall: '视频通话', call_calling: '呼叫中…',
          call_ringing: '来电', call_connecting: '连接中…', call_connected: '通话中',
          callFailed: '通话失败。', noAnswer: '无人接听。', callDeclined: '对方拒绝了通话。',
          callBusy: '对方正在通话中。', callEnded: '通话已结束。', noCalls: '此浏览器不支持通话。',
          signIn: '请先登录再聊天。', unreachable: '无法连接聊天服务器，正在重试…', askAI: '问 AI',
          restartWait: '服务器正在重启；{n} 秒后重新连接', serverFull: '服务器已满，{n} 秒后重试' }
  };
  var lang = localStorage.getItem('chatLang') || ((navigator.language || 'en').indexOf('zh') === 0 ? 'zh' : 'en');
  var t = function (k) { return (T[lang] || T.en)[k] || T.en[k] || k; };

  var room = location.pathname.split('/').filter(Boolean).pop() || 'lobby';
  // the socket and uploads live under the page's own prefix (/chat by default)
  var prefix = location.pathname.replace(/\/[^\/]*$/, '') || '/chat';
  var params = new URLSearchParams(location.search);
  var user = params.get('username') || '';
  // token identity: a ?token= in the page URL goes along to the socket and uploads
  var token = params.get('token') || '';
  var ident = function () {
    return token ? 'token=' + encodeURIComponent(token) : (user ? 'username=' + encodeURIComponent(user) : '');
  };
  var info = { iceServers: [] }, connects = 0;
  var log = $('log'), state = $('state');
  var since = 0, epoch = '', oldestSeq = 0, hasMore = false, ws = null, delay = 500;
  var unread = 0, baseTitle = '#' + room + ' — mod_chat';
  var seen = {};   // message id -> element: no message is shown twice

  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.querySelectorAll('[data-i18n]').forEach(function (e) { e.textContent = t(e.dataset.i18n); });
    document.querySelectorAll('[data-i18n-placeholder]').forEach(function (e) { e.placeholder = t(e.dataset.i18nPlaceholder); });
    // icon-only controls: the name a screen reader says, and a tooltip
    document.querySelectorAll('[data-i18n-label]').forEach(function (e) {
      e.setAttribute('aria-label', t(e.dataset.i18nLabel)); e.title = t(e.dataset.i18nLabel);
    });
    $('lang').textContent = lang === 'zh' ? 'EN' : '中文';
  }
  function setTheme(dark) {
    document.documentElement.classList.toggle('dark', dark);
    if ($('hljs-dark')) { $('hljs-dark').disabled = !dark; $('hljs-light').disabled = dark; }
    localStorage.setItem('chatTheme', dark ? 'dark' : 'light');
  }

  // --- Markdown: marked + DOMPurify + highlight.js (markdown.js) --------------
  // Messages, captions, bot answers and the Explain/Describe boxes all go
  // through this one function; it returns sanitised HTML.
  function markdown(text) { return window.ChatMarkdown.render(text); }
  // a control: an SVG icon (icons.js) and a text label, the label also its name
  function iconButton(cls, icon, label) {
    var b = el('button', cls); b.type = 'button';
    b.appendChild(window.ChatIcons.make(icon));
    b.appendChild(el('span', 'label', label));
    return b;
  }

  // --- rendering ----------------------------------------------------------
  function dayOf(ms) { var d = new Date(ms); return d.getFullYear() + '-' + (d.getMonth() + 1) + '-' + d.getDate(); }
  function timeOf(ms) { return new Date(ms).toLocaleTimeString(lang === 'zh' ? 'zh-CN' : undefined, { hour: '2-digit', minute: '2-digit' }); }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }

  function system(text) { var d = el('div', 'msg sys', text); log.appendChild(d); scrollDown(); }
  function banner(text) { var b = $('banner'); b.textContent = text || ''; b.hidden = !text; }

  function renderMessage(m) {
    var d = el('div', 'msg' + (m.username === user ? ' own' : '') + (m.type === 'system' ? ' sys' : '') +
                (m.bot ? ' bot' : '') + (m.error ? ' failed' : ''));
    d.dataset.id = m.id; d.dataset.seq = m.seq; d.dataset.day = dayOf(m.timestamp);
    var head = el('div', 'head');
    head.appendChild(el('span', 'who', m.username));
    head.appendChild(el('span', 'when', timeOf(m.timestamp)));
    d.appendChild(head);
    var body = el('div', 'body');
    if (m.type === 'image' && m.imageUrl) {
      var img = el('img', 'thumb'); img.alt = m.filename || ''; img.src = m.imageUrl; img.loading = 'lazy';
      img.tabIndex = 0; img.setAttribute('role', 'button'); // opens the viewer by keyboard too
      img.onclick = function () {
        $('viewer-img').src = m.imageUrl; $('viewer-img').alt = m.filename || ''; $('viewer').hidden = false;
        $('viewer').from = img; $('viewer').focus();
      };
      img.onkeydown = function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); img.onclick(); } };
      body.appendChild(img);
      if (m.caption) { var c = el('div', 'caption'); c.innerHTML = markdown(m.caption); body.appendChild(c); }
    } else if (m.type === 'audio' && m.audioUrl) {
      var a = el('audio'); a.controls = true; a.src = m.audioUrl; a.preload = 'metadata';
      body.appendChild(a);
    } else {
      body.innerHTML = markdown(m.text || '');
    }
    d.appendChild(body);
    var tools = el('div', 'tools');
    if (m.username === user && m.type !== 'system') {
      var del = iconButton('del', 'trash', t('del'));
      del.onclick = function () { send('delete', { messageId: m.id }); };
      tools.appendChild(del);
    }
    if (m.type === 'text' || m.type === 'image') {
      var ai = m.type === 'image' ? iconButton('ai', 'describe', t('describe')) : iconButton('ai', 'explain', t('explain'));
      ai.onclick = function () { chatAI.ask(m, d, ai); };
      tools.appendChild(ai);
    }
    d.appendChild(tools);
    conv.decorate(m, d);
    return d;
  }

  function daySeparator(day, ms) {
    var label = day === dayOf(Date.now()) ? t('today') : new Date(ms).toLocaleDateString(lang === 'zh' ? 'zh-CN' : undefined);
    var s = el('div', 'day', label); s.dataset.daySep = day; return s;
  }

  function nearBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }
  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function show(m, prepend) {
    if (seen[m.id]) return false;
    var stick = nearBottom();
    var node = renderMessage(m);
    seen[m.id] = node;
    if (prepend) {
      var first = log.querySelector('.msg[data-seq]');
      log.insertBefore(node, first ? (first.previousElementSibling && first.previousElementSibling.dataset.daySep ? first.previousElementSibling : first) : log.firstChild);
    } else {
      var last = log.querySelectorAll('.msg[data-seq]');
      last = last[last.length - 1];
      if (!last || last.dataset.day !== node.dataset.day) log.appendChild(daySeparator(node.dataset.day, m.timestamp));
      log.appendChild(node);
      if (stick || m.username === user) scrollDown();
    }
    if (m.seq > since) since = m.seq;
    if (!oldestSeq || m.seq < oldestSeq) oldestSeq = m.seq;
    return true;
  }

  function resetLog(history) {
    log.textContent = ''; seen = {}; since = 0; oldestSeq = 0;
    history.forEach(function (m) { show(m); });
    scrollDown();
  }

  function notify(m) {
    if (!document.hidden || m.username === user) return;
    unread++;
    document.title = '(' + unread + ') ' + baseTitle;
    if (window.Notification && Notification.permission === 'granted') {
      try { new Notification(m.username, { body: m.text || m.caption || '', tag: room }); } catch (e) { /* not allowed here */ }
    }
  }
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) { unread = 0; document.title = baseTitle; }
  });

  function users(list) {
    var ul = $('user-list'); ul.textContent = '';
    chatAI.members(list);
    list.forEach(function (u) {
      var li = el('li', u === user ? 'me' : '');
      li.appendChild(el('span', 'name', u));
      li.dataset.user = u;
      if (u !== user) {
        [['call-audio', 'phone', 'audioCall', false], ['call-video', 'video', 'videoCall', true]].forEach(function (b) {
          var btn = el('button', b[0]); btn.type = 'button'; btn.title = t(b[2]);
          btn.appendChild(window.ChatIcons.make(b[1]));
          btn.setAttribute('aria-label', t(b[2]) + ' ' + u);
          btn.onclick = function () { calls.start(u, b[3]); };
          li.appendChild(btn);
        });
      }
      ul.appendChild(li);
    });
  }

  // --- connection -----------------------------------------------------------
  function send(type, payload) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: type, payload: payload || {} }));
  }

  function connect() {
    // the first attempt since the last close (tests read it beside closedAt)
    if (!document.body.dataset.attemptAt) document.body.dataset.attemptAt = Date.now();
    var q = '?' + ident() + (since ? '&since=' + since + '&epoch=' + encodeURIComponent(epoch) : '');
    state.textContent = since ? t('reconnecting') : t('connecting');
    state.className = 'state connecting';
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + prefix + '/' + room + q);
    ws.onmessage = function (e) {
      var msg, p;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      p = msg.payload || {};
      switch (msg.type) {
        case 'welcome':
          delay = 500; user = p.username;
          document.body.dataset.connects = ++connects;
          state.textContent = p.userCount + t('users'); state.className = 'state online';
          banner('');
          if (p.epoch !== epoch || !since) { epoch = p.epoch; resetLog(p.history); hasMore = p.hasMoreHistory; }
          break;
        case 'chat':
          if (show(p)) notify(p);
          else if (seen[p.id]) { var fresh = renderMessage(p); seen[p.id].replaceWith(fresh); seen[p.id] = fresh; }
          break;
        case 'history':
          var before = log.scrollHeight;
          p.messages.slice().reverse().forEach(function (m) { show(m, true); });
          hasMore = p.hasMore; loadingOlder = false;
          log.scrollTop += log.scrollHeight - before;
          conv.onHistory();
          break;
        case 'search_results': conv.onSearch(p); break;
        case 'history_reset': epoch = p.epoch; resetLog(p.history); break;
        case 'ai_partial': chatAI.partial(p); break;
        case 'delete': if (seen[p.messageId]) { seen[p.messageId].remove(); delete seen[p.messageId]; } break;
        case 'user_join': system(p.username + t('joined')); state.textContent = p.userCount + t('users'); break;
        case 'user_leave':
          system(p.username + t('left')); state.textContent = p.userCount + t('users');
          calls.peerLeft(p.username);
          break;
        case 'user_list_update': users(p.users); state.textContent = p.userCount + t('users'); break;
        case 'auth_failed':
          ws.onclose = null; state.textContent = t('notAllowed'); state.className = 'state failed';
          banner(p.message);
          break;
        case 'error': banner(p.message); conv.onError(p); break;
        case 'offer': case 'answer': case 'candidate': case 'call_end': calls.handle(msg.type, p); break;
      }
    };
    var opened = false;
    ws.onopen = function () { opened = true; };
    ws.onclose = function (e) {
      // a stopping or restarting server says when to come back (1001 with
      // retry-after-ms, random per socket): all pages must not return at once
      var hint = e.code === 1001 && /(?:^|;\s*)retry-after-ms=(\d+)/.exec(e.reason || '');
      document.body.dataset.closedAt = Date.now();
      document.body.dataset.attemptAt = '';
      if (hint) {
        delay = 500;
        document.body.dataset.retryMs = hint[1];
        return waitThen(+hint[1], 'restartWait', false);
      }
      if (opened) return backoff(opened);
      // a browser cannot see why an upgrade failed: ask whether the server is full
      fetch(prefix + '/' + room + '?capacity', { cache: 'no-store' }).then(function (r) {
        var after = parseInt(r.headers.get('Retry-After'), 10);
        if (r.status !== 503 || !(after > 0)) return backoff(false);
        // Retry-After plus up to a quarter more, so refused pages spread out
        var wait = after * 1000 + Math.floor(Math.random() * after * 250);
        document.body.dataset.fullRetryMs = wait;
        waitThen(wait, 'serverFull', true);
      }, function () { backoff(false); });
    };
  }

  function backoff(opened) {
    state.textContent = t('reconnecting'); state.className = 'state connecting';
    // refused before the upgrade (server down, or identity refused): say so
    if (!opened && delay >= 4000) banner(t('unreachable'));
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 15000);
  }

  // Wait ms, counting down in the UI (the state, and the banner when the
  // server is full), then connect.
  function waitThen(ms, what, loud) {
    var until = performance.now() + ms;
    function tick() {
      var left = until - performance.now();
      if (left <= 0) { if (loud) banner(''); return connect(); }
      var text = t(what).replace('{n}', Math.ceil(left / 1000));
      state.textContent = text; state.className = 'state connecting waiting';
      if (loud) banner(text);
      setTimeout(tick, Math.min(left, 1000));
    }
    tick();
  }

  var loadingOlder = false;
  log.addEventListener('scroll', function () {
    if (log.scrollTop < 40 && hasMore && !loadingOlder && oldestSeq) {
      loadingOlder = true;
      send('history', { beforeSeq: oldestSeq, limit: 30 });
    }
  });

  // --- composing ------------------------------------------------------------
  $('f').onsubmit = function (e) {
    e.preventDefault();
    var text = $('text').value;
    if (!text.trim()) return;
    // "ask AI": the mode menu, or /gemini …, /deepseek … (any provider) typed in the box
    var ask = text.match(/^\/([A-Za-z0-9_-]+)\s+([\s\S]+)/);
    if (ask && info.ai && info.ai.chat.indexOf(ask[1]) >= 0) send(ask[1] + '_chat', { text: ask[2] });
    else if ($('mode').value !== 'chat') send($('mode').value + '_chat', { text: text });
    else send('chat', conv.outgoing({ type: 'text', text: text }));
    $('text').value = '';
  };
  $('text').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('f').requestSubmit(); }
  });

  function upload(blob, filename) {
    return fetch(prefix + '/upload?room=' + encodeURIComponent(room) + '&' + ident(), {
      method: 'POST', body: blob,
      headers: { 'Content-Type': (blob.type || 'application/octet-stream').split(';')[0], 'X-Filename': encodeURIComponent(filename) }
    }).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.statusText); return j; });
    });
  }
  function sendImage(file) {
    // the text typed in the composer is the image's caption
    var caption = $('text').value.trim() ? $('text').value : '';
    $('text').value = '';
    conv.prepareImage(file).then(function (f) { return upload(f.blob, f.name); }).then(function (j) {
      send('chat', conv.outgoing({ type: 'image', imageUrl: j.url, filename: j.filename, size: j.size, caption: caption }));
    }).catch(function (e) {
      banner(t('uploadFailed') + e.message);
      if (!$('text').value) $('text').value = caption;
    });
  }
  $('attach').onclick = function () { $('file').click(); };
  $('file').onchange = function () { if (this.files[0]) sendImage(this.files[0]); this.value = ''; };
  document.addEventListener('paste', function (e) {
    var items = (e.clipboardData && e.clipboardData.files) || [];
    if (items.length && /^image\//.test(items[0].type)) { e.preventDefault(); sendImage(items[0]); }
  });
  log.addEventListener('dragover', function (e) { e.preventDefault(); });
  log.addEventListener('drop', function (e) {
    e.preventDefault();
    var f = e.dataTransfer.files[0];
    if (f && /^image\//.test(f.type)) sendImage(f);
  });

  var recorder = null;
  $('record').onclick = function () {
    if (recorder) { recorder.stop(); return; }
    if (!navigator.mediaDevices || !window.MediaRecorder) { banner('no microphone'); return; }
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      var chunks = [];
      recorder = new MediaRecorder(stream, { mimeType: 'audio/webm' });
      recorder.ondataavailable = function (e) { if (e.data.size) chunks.push(e.data); };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (tr) { tr.stop(); });
        recorder = null; $('record').classList.remove('on'); $('record').title = '';
        var blob = new Blob(chunks, { type: 'audio/webm' });
        upload(blob, 'voice.webm').then(function (j) {
          send('chat', conv.outgoing({ type: 'audio', audioUrl: j.url, filename: j.filename, size: j.size }));
        }).catch(function (e) { banner(t('uploadFailed') + e.message); });
      };
      recorder.start(250); // chunks as we go: a dropped page loses at most a quarter second
      recorder.addEventListener('dataavailable', function () {
        $('record').dataset.bytes = chunks.reduce(function (n, c) { return n + c.size; }, 0);
      });
      $('record').classList.add('on'); $('record').title = t('recording');
    }).catch(function (e) { banner(e.message); });
  };

  // the viewer closes by click, Escape or Enter and gives focus back to its thumbnail
  function closeViewer() { var v = $('viewer'); v.hidden = true; if (v.from) v.from.focus(); v.from = null; }
  $('viewer').onclick = closeViewer;
  $('viewer').onkeydown = function (e) { if (e.key === 'Escape' || e.key === 'Enter') closeViewer(); };
  $('toggle-users').onclick = function () {
    this.setAttribute('aria-expanded', document.body.classList.toggle('show-users'));
  };
  $('theme').onclick = function () { setTheme(!document.documentElement.classList.contains('dark')); };
  $('lang').onclick = function () { lang = lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('chatLang', lang); applyLang(); };

  setTheme(localStorage.getItem('chatTheme') === 'dark' ||
           (!localStorage.getItem('chatTheme') && window.matchMedia && matchMedia('(prefers-color-scheme: dark)').matches));
  applyLang();
  $('room').textContent = '#' + room;
  document.title = baseTitle;
  var calls = window.ChatCall({
    send: send, t: t, banner: banner,
    iceServers: function () { return info.iceServers || []; },
    notify: function (title, body) {
      if (document.hidden && window.Notification && Notification.permission === 'granted') {
        try { new Notification(title, { body: body, tag: room + '-call' }); } catch (e) { /* not allowed here */ }
      }
    }
  });

  window.chatCalls = calls; // for diagnostics and the browser tests
  // Explain/Describe, streamed answers and the @ pop-up: chat_ai.js
  var chatAI = window.ChatAI({
    prefix: prefix, room: room, ident: ident, el: el, banner: banner,
    info: function () { return info; }, lang: function () { return lang; }, user: function () { return user; },
    markdown: function (text) { return markdown(text); }, node: function (id) { return seen[id]; }
  });
  chatAI.mentions($('text'), $('f'));
  // replies, search, copy, image resizing (chat_conv.js)
  var conv = window.ChatConv({
    send: send, banner: banner, log: log,
    info: function () { return info; },
    older: function () {
      if (!hasMore || !oldestSeq) return false;
      if (!loadingOlder) { loadingOlder = true; send('history', { beforeSeq: oldestSeq, limit: 100 }); }
      return true;
    }
  });

  function start() {
    if (window.Notification && Notification.permission === 'default') {
      document.addEventListener('click', function once() {
        document.removeEventListener('click', once);
        Notification.requestPermission();
      });
    }
    connect();
  }
  // Ask the server how identity works here before connecting: a name prompt
  // only in query mode; remote-user and token modes know the user already.
  fetch(location.pathname + '?info' + (ident() ? '&' + ident() : ''), { cache: 'no-store' })
    .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(function (j) {
      info = j;
      if (j.maxText) $('text').maxLength = j.maxText;
      // the "send to" menu lists the AI providers this server has
      var sel = $('mode');
      ((j.ai && j.ai.chat) || []).forEach(function (name) {
        if (!sel.querySelector('option[value="' + name + '"]')) {
          var o = el('option', '', t('askAI') + ': ' + name); o.value = name; sel.appendChild(o);
        }
      });
      [].slice.call(sel.options).forEach(function (o) {
        if (o.value !== 'chat' && j.ai && j.ai.chat.indexOf(o.value) < 0) o.remove();
      });
      sel.hidden = sel.options.length < 2;
      if (j.username) user = j.username;
      if (!user && j.identity === 'query') user = (prompt(t('name')) || '').trim();
      if (user) start();
      else { state.textContent = t('notAllowed'); state.className = 'state failed'; banner(t('signIn')); }
    })
    .catch(function () {
      // an older server or a proxy that hides ?info: fall back to the URL's name
      if (user || token) start();
      else { state.textContent = t('notAllowed'); state.className = 'state failed'; banner(t('signIn')); }
    });
})();
