// The mod_chat browser client. Plain JS, no build step. Everything a user
// writes is rendered from text: Markdown is applied to escaped text and only
// our own tags are produced, links only for http(s) URLs.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var T = {
    en: { online: 'Online', send: 'Send', message: 'Message', connecting: 'connecting…',
          reconnecting: 'reconnecting…', notAllowed: 'not allowed', joined: ' joined',
          left: ' left', del: 'Delete', explain: 'Explain', describe: 'Describe',
          older: 'older messages…', today: 'Today', name: 'Your name?', users: ' online',
          uploadFailed: 'Upload failed: ', aiFailed: 'AI: ', recording: 'recording… tap to stop',
          image: 'Image', voice: 'Voice' },
    zh: { online: '在线', send: '发送', message: '消息', connecting: '连接中…',
          reconnecting: '重新连接中…', notAllowed: '无权访问', joined: ' 加入了', left: ' 离开了',
          del: '删除', explain: '解释', describe: '描述', older: '更早的消息…', today: '今天',
          name: '你的名字？', users: ' 人在线', uploadFailed: '上传失败：', aiFailed: 'AI：',
          recording: '录音中… 点击停止', image: '图片', voice: '语音' }
  };
  var lang = localStorage.getItem('chatLang') || ((navigator.language || 'en').indexOf('zh') === 0 ? 'zh' : 'en');
  var t = function (k) { return (T[lang] || T.en)[k] || T.en[k] || k; };

  var room = location.pathname.split('/').filter(Boolean).pop() || 'lobby';
  var params = new URLSearchParams(location.search);
  var user = params.get('username') || '';
  var log = $('log'), state = $('state');
  var since = 0, epoch = '', oldestSeq = 0, hasMore = false, ws = null, delay = 500;
  var unread = 0, baseTitle = '#' + room + ' — mod_chat';
  var seen = {};   // message id -> element: no message is shown twice

  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.querySelectorAll('[data-i18n]').forEach(function (e) { e.textContent = t(e.dataset.i18n); });
    document.querySelectorAll('[data-i18n-placeholder]').forEach(function (e) { e.placeholder = t(e.dataset.i18nPlaceholder); });
    $('lang').textContent = lang === 'zh' ? 'EN' : '中文';
  }
  function setTheme(dark) {
    document.documentElement.classList.toggle('dark', dark);
    localStorage.setItem('chatTheme', dark ? 'dark' : 'light');
  }

  // --- safe Markdown ----------------------------------------------------
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function safeUrl(u) { return /^https?:\/\/[^\s"'<>]+$/i.test(u) ? u : null; }
  function inline(s) {
    // s is already escaped; produce only <code>, <strong>, <em>, <a>
    var codes = [];
    s = s.replace(/`([^`]+)`/g, function (_, c) { codes.push(c); return '\u0000' + (codes.length - 1) + '\u0000'; });
    s = s.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, function (m, label, url) {
      var u = safeUrl(url.replace(/&amp;/g, '&'));
      return u ? '<a href="' + esc(u) + '" target="_blank" rel="noopener noreferrer">' + label + '</a>' : m;
    });
    s = s.replace(/(^|[\s(])(https?:\/\/[^\s<]+)/g, function (m, pre, url) {
      var u = safeUrl(url.replace(/&amp;/g, '&'));
      return u ? pre + '<a href="' + esc(u) + '" target="_blank" rel="noopener noreferrer">' + url + '</a>' : m;
    });
    s = s.replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>').replace(/\*([^*\s][^*]*)\*/g, '<em>$1</em>');
    return s.replace(/\u0000(\d+)\u0000/g, function (_, i) { return '<code>' + codes[+i] + '</code>'; });
  }
  function markdown(text) {
    var parts = String(text).split(/```/), out = '';
    parts.forEach(function (p, i) {
      if (i % 2) {
        out += '<pre><code>' + esc(p.replace(/^[a-z0-9+-]*\n/i, '')) + '</code></pre>';
      } else {
        out += esc(p).split('\n').map(inline).join('<br>');
      }
    });
    return out;
  }

  // --- rendering ----------------------------------------------------------
  function dayOf(ms) { var d = new Date(ms); return d.getFullYear() + '-' + (d.getMonth() + 1) + '-' + d.getDate(); }
  function timeOf(ms) { return new Date(ms).toLocaleTimeString(lang === 'zh' ? 'zh-CN' : undefined, { hour: '2-digit', minute: '2-digit' }); }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }

  function system(text) { var d = el('div', 'msg sys', text); log.appendChild(d); scrollDown(); }
  function banner(text) { var b = $('banner'); b.textContent = text || ''; b.hidden = !text; }

  function renderMessage(m) {
    var d = el('div', 'msg' + (m.username === user ? ' own' : '') + (m.type === 'system' ? ' sys' : ''));
    d.dataset.id = m.id; d.dataset.seq = m.seq; d.dataset.day = dayOf(m.timestamp);
    var head = el('div', 'head');
    head.appendChild(el('span', 'who', m.username));
    head.appendChild(el('span', 'when', timeOf(m.timestamp)));
    d.appendChild(head);
    var body = el('div', 'body');
    if (m.type === 'image' && m.imageUrl) {
      var img = el('img', 'thumb'); img.alt = m.filename || ''; img.src = m.imageUrl; img.loading = 'lazy';
      img.onclick = function () { $('viewer-img').src = m.imageUrl; $('viewer').hidden = false; };
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
      var del = el('button', 'del', t('del')); del.type = 'button';
      del.onclick = function () { send('delete', { messageId: m.id }); };
      tools.appendChild(del);
    }
    if (m.type === 'text' || m.type === 'image') {
      var ai = el('button', 'ai', m.type === 'image' ? t('describe') : t('explain')); ai.type = 'button';
      ai.onclick = function () { askAI(m, d); };
      tools.appendChild(ai);
    }
    d.appendChild(tools);
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
    list.forEach(function (u) { ul.appendChild(el('li', u === user ? 'me' : '', u)); });
  }

  // --- connection -----------------------------------------------------------
  function send(type, payload) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: type, payload: payload || {} }));
  }

  function connect() {
    var q = '?username=' + encodeURIComponent(user) + (since ? '&since=' + since + '&epoch=' + encodeURIComponent(epoch) : '');
    state.textContent = since ? t('reconnecting') : t('connecting');
    state.className = 'state connecting';
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/chat/' + room + q);
    ws.onmessage = function (e) {
      var msg, p;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      p = msg.payload || {};
      switch (msg.type) {
        case 'welcome':
          delay = 500;
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
          break;
        case 'history_reset': epoch = p.epoch; resetLog(p.history); break;
        case 'delete': if (seen[p.messageId]) { seen[p.messageId].remove(); delete seen[p.messageId]; } break;
        case 'user_join': system(p.username + t('joined')); state.textContent = p.userCount + t('users'); break;
        case 'user_leave': system(p.username + t('left')); state.textContent = p.userCount + t('users'); break;
        case 'user_list_update': users(p.users); state.textContent = p.userCount + t('users'); break;
        case 'auth_failed':
          ws.onclose = null; state.textContent = t('notAllowed'); state.className = 'state failed';
          banner(p.message);
          break;
        case 'error': banner(p.message); break;
      }
    };
    ws.onclose = function () {
      state.textContent = t('reconnecting'); state.className = 'state connecting';
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
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
    var ask = text.match(/^\/(gemini|deepseek)\s+([\s\S]+)/);
    if (ask) send(ask[1] + '_chat', { text: ask[2] });
    else send('chat', { type: 'text', text: text });
    $('text').value = '';
  };
  $('text').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('f').requestSubmit(); }
  });

  function upload(blob, filename) {
    return fetch('/chat/upload?room=' + encodeURIComponent(room) + '&username=' + encodeURIComponent(user), {
      method: 'POST', body: blob,
      headers: { 'Content-Type': (blob.type || 'application/octet-stream').split(';')[0], 'X-Filename': encodeURIComponent(filename) }
    }).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.statusText); return j; });
    });
  }
  function sendImage(file) {
    upload(file, file.name || 'image').then(function (j) {
      send('chat', { type: 'image', imageUrl: j.url, filename: j.filename, size: j.size, caption: '' });
    }).catch(function (e) { banner(t('uploadFailed') + e.message); });
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
          send('chat', { type: 'audio', audioUrl: j.url, filename: j.filename, size: j.size });
        }).catch(function (e) { banner(t('uploadFailed') + e.message); });
      };
      recorder.start();
      $('record').classList.add('on'); $('record').title = t('recording');
    }).catch(function (e) { banner(e.message); });
  };

  function askAI(m, node) {
    var isImage = m.type === 'image';
    fetch('/chat/ai/' + (isImage ? 'describe-image' : 'explain') + '?username=' + encodeURIComponent(user), {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(isImage ? { imageUrl: m.imageUrl, roomName: room } : { text: m.text, roomName: room })
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error(j.error || ('AI is not available (' + r.status + ')'));
        return j;
      });
    }).then(function (j) {
      var box = el('div', 'ai-answer'); box.innerHTML = markdown(j.explanation || j.description || '');
      node.appendChild(box);
    }).catch(function (e) { banner(t('aiFailed') + e.message); });
  }

  $('viewer').onclick = function () { this.hidden = true; };
  $('toggle-users').onclick = function () { document.body.classList.toggle('show-users'); };
  $('theme').onclick = function () { setTheme(!document.documentElement.classList.contains('dark')); };
  $('lang').onclick = function () { lang = lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('chatLang', lang); applyLang(); };

  setTheme(localStorage.getItem('chatTheme') === 'dark' ||
           (!localStorage.getItem('chatTheme') && window.matchMedia && matchMedia('(prefers-color-scheme: dark)').matches));
  applyLang();
  $('room').textContent = '#' + room;
  document.title = baseTitle;
  if (!user) user = (prompt(t('name')) || '').trim();
  if (user) {
    if (window.Notification && Notification.permission === 'default') {
      document.addEventListener('click', function once() {
        document.removeEventListener('click', once);
        Notification.requestPermission();
      });
    }
    connect();
  } else {
    state.textContent = t('notAllowed');
  }
})();
