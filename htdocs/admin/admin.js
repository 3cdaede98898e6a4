// The admin page: plain JS over /chat-admin/api (docs/ADMIN_API.md). The
// secret stays in sessionStorage of this tab; nothing user-supplied is ever
// inserted as HTML. One timer polls what is on screen: the open room's debug
// log each second (the live tail), its sessions, chart, the rooms and stats
// less often; a view is redrawn only when its data changed, so keyboard focus
// stays where it is.
(function () {
  'use strict';
  var API = location.pathname.replace(/\/[^/]*$/, '') + '/api';
  var SVG = 'http://www.w3.org/2000/svg';
  var HOUR = 3600000;
  var $ = function (id) { return document.getElementById(id); };
  var secret = sessionStorage.getItem('chatAdminSecret') || '';
  var current = null, oldest = 0, timer = null, ticks = 0;
  var drawn = {};     // view name -> JSON it was last drawn from
  var busy = {};      // view name -> a request is in flight

  function showError(msg) { var e = $('error'); e.textContent = msg; e.hidden = !msg; }

  function call(method, path, body) {
    var opts = { method: method, headers: { Authorization: 'Bearer ' + secret } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(API + path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) {
          if (r.status === 401) signOut();
          throw new Error((j.error || r.statusText) + ' (' + r.status + (j.code ? ' ' + j.code : '') + ')');
        }
        showError('');
        return j;
      });
    }, function () { throw new Error('the server did not answer'); });
  }
  function fail(e) { showError(e.message); }

  // GET path and draw(json) unless the answer is what is already drawn
  function view(name, path, draw, force) {
    if (busy[name]) return Promise.resolve();
    busy[name] = true;
    return call('GET', path).then(function (j) {
      var s = JSON.stringify(j);
      if (force || drawn[name] !== s) { drawn[name] = s; draw(j); }
    }).catch(fail).then(function () { busy[name] = false; });
  }

  function el(tag, text, cls) {
    var x = document.createElement(tag);
    if (text !== undefined && text !== null) x.textContent = text;
    if (cls) x.className = cls;
    return x;
  }
  function btn(text, onclick, label) {
    var b = el('button', text); b.type = 'button'; b.onclick = onclick;
    if (label) b.setAttribute('aria-label', label);
    return b;
  }
  function row(cells) {
    var tr = el('tr');
    cells.forEach(function (v) { tr.appendChild(v instanceof Node ? wrap(v) : el('td', String(v))); });
    return tr;
  }
  // a table row saying there is nothing to list
  function note(text, cols) { var td = el('td', text, 'muted'); td.colSpan = cols; var tr = el('tr'); tr.appendChild(td); return tr; }
  function wrap(node) { var td = el('td'); td.appendChild(node); return td; }
  function when(ms) { return ms ? new Date(ms).toLocaleString() : '—'; }
  function room(path) { return '/rooms/' + encodeURIComponent(current) + path; }

  // ---- rooms ----
  function loadRooms(force) {
    return view('rooms', '/rooms', function (j) {
      var tb = $('rooms').tBodies[0];
      tb.textContent = '';
      if (!j.rooms.length) tb.appendChild(note('no rooms yet: add a first member above', 6));
      j.rooms.sort(function (a, b) { return a.name < b.name ? -1 : 1; }).forEach(function (r) {
        var tr = row([r.name, r.members, r.online, (r.users || []).join(', ') || '—', when(r.lastActivity),
                      btn('Open', function () { openRoom(r.name); }, 'Open room ' + r.name)]);
        tr.dataset.room = r.name;
        if (r.name === current) tr.className = 'selected';
        tb.appendChild(tr);
      });
    }, force);
  }

  function openRoom(name) {
    current = name; oldest = 0;
    ['members', 'sessions', 'hours', 'log'].forEach(function (k) { delete drawn[k]; });
    $('room').hidden = false;
    $('room-name').textContent = name;
    $('messages').textContent = '';
    loadRooms(true); loadMembers(); loadMessages(); loadLog(); loadSessions(); loadHours();
  }

  function loadMembers() {
    return view('members', room('/members'), function (j) {
      var ul = $('members'); ul.textContent = '';
      if (!j.members.length) ul.appendChild(el('li', 'no members: the room is inactive', 'muted'));
      j.members.forEach(function (m) {
        var li = el('li', m);
        li.appendChild(btn('Remove', function () {
          call('DELETE', room('/members?username=' + encodeURIComponent(m)))
            .then(function () { loadMembers(); loadRooms(); }).catch(fail);
        }, 'Remove ' + m));
        ul.appendChild(li);
      });
    });
  }

  // ---- sessions: one row per session, the user named on its first ----
  function loadSessions() {
    return view('sessions', room('/sessions'), function (j) {
      var tb = $('sessions').tBodies[0];
      tb.textContent = '';
      if (!j.users.length) tb.appendChild(note('nobody online', 5));
      j.users.forEach(function (u) {
        u.sessions.forEach(function (s, i) {
          var tr = row([i ? '' : u.username, s.host, el('span', s.node + ' (pid ' + s.pid + ')', 'node'),
                        when(s.since), when(s.lastSeen)]);
          tr.dataset.user = u.username;
          tr.dataset.pid = s.pid;
          tr.dataset.node = s.node;
          tb.appendChild(tr);
        });
      });
    });
  }

  // ---- messages per hour of the last 7 days, as an SVG bar chart ----
  function svg(tag, attrs, text) {
    var x = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { x.setAttribute(k, attrs[k]); });
    if (text !== undefined) x.textContent = text;
    return x;
  }
  function loadHours() {
    return view('hours', room('/hours'), drawChart);
  }
  function drawChart(j) {
    var b = j.buckets, n = b.length, left = 34, top = 8, w = 840, h = 150;
    var max = b.reduce(function (m, x) { return Math.max(m, x.count); }, 0);
    var scale = max ? h / max : 0, step = w / n;
    var fig = $('chart');
    var s = svg('svg', { viewBox: '0 0 ' + (left + w + 6) + ' ' + (top + h + 26), role: 'img',
                         'aria-label': 'Messages per hour over the last 7 days: ' + j.total +
                                       ' in total, at most ' + max + ' in one hour' });
    s.appendChild(svg('line', { x1: left, y1: top + h, x2: left + w, y2: top + h, 'class': 'axis' }));
    s.appendChild(svg('line', { x1: left, y1: top, x2: left, y2: top + h, 'class': 'axis' }));
    s.appendChild(svg('text', { x: left - 4, y: top + 10, 'text-anchor': 'end' }, String(max)));
    s.appendChild(svg('text', { x: left - 4, y: top + h, 'text-anchor': 'end' }, '0'));
    b.forEach(function (x, i) {
      var bh = x.count * scale, d = new Date(x.start);
      var r = svg('rect', { x: (left + i * step + 0.5).toFixed(1), y: (top + h - bh).toFixed(1),
                            width: (step - 1).toFixed(1), height: bh.toFixed(1),
                            'class': 'bar' + (i === n - 1 ? ' now' : ''),
                            'data-start': x.start, 'data-count': x.count });
      r.appendChild(svg('title', {}, d.toLocaleString() + ': ' + x.count + ' message' + (x.count === 1 ? '' : 's')));
      s.appendChild(r);
      if (d.getHours() === 0) { // a day starts: tick and date
        s.appendChild(svg('line', { x1: left + i * step, y1: top + h, x2: left + i * step, y2: top + h + 5, 'class': 'axis' }));
        s.appendChild(svg('text', { x: left + i * step + 2, y: top + h + 18 },
                          d.toLocaleDateString(undefined, { weekday: 'short' }) + ' ' + d.getDate()));
      }
    });
    fig.textContent = '';
    fig.dataset.total = j.total;
    var box = el('div', null, 'scroll'); // scrolls on its own on a phone
    box.tabIndex = 0;
    box.setAttribute('role', 'region');
    box.setAttribute('aria-label', 'Chart, scrolls sideways on narrow screens');
    box.appendChild(s);
    fig.appendChild(box);
    box.scrollLeft = box.scrollWidth; // the current hour in sight
    fig.appendChild(el('figcaption', j.total + ' messages in 7 days; the orange bar is the current hour (' +
                       b[n - 1].count + ' so far). Times are local.'));
  }

  // ---- messages ----
  function messageItem(m) {
    var li = el('li');
    li.dataset.id = m.id;
    li.appendChild(el('span', when(m.timestamp), 'meta'));
    li.appendChild(el('strong', m.username + ': '));
    li.appendChild(document.createTextNode(m.text || m.imageUrl || m.audioUrl || ''));
    li.appendChild(btn('Delete', function () {
      call('DELETE', room('/messages/' + encodeURIComponent(m.id)))
        .then(function () { li.remove(); }).catch(fail);
    }, 'Delete message ' + m.id));
    return li;
  }

  function loadMessages(older) {
    var q = '?limit=50' + (older && oldest ? '&beforeSeq=' + oldest : '');
    return call('GET', room('/messages' + q)).then(function (j) {
      var ul = $('messages');
      if (!older) ul.textContent = '';
      var first = ul.firstChild;
      j.messages.forEach(function (m) { ul.insertBefore(messageItem(m), first); });
      if (j.messages.length) oldest = j.messages[0].seq;
      $('older').hidden = !j.hasMore;
    }).catch(fail);
  }

  // ---- debug log: the live tail ----
  function loadLog(force) {
    return view('log', room('/log?limit=100'), function (j) {
      var ul = $('log'); ul.textContent = '';
      if (!j.entries.length) ul.appendChild(el('li', 'empty', 'muted'));
      j.entries.forEach(function (e) {
        var li = el('li');
        li.dataset.event = e.event;
        li.appendChild(el('span', when(e.ts), 'meta'));
        li.appendChild(document.createTextNode(e.event + ' ' + e.username + (e.detail ? ': ' + e.detail : '')));
        if (e.node) li.appendChild(el('span', ' on ' + e.node, 'muted'));
        ul.appendChild(li);
      });
    }, force);
  }

  // ---- stats and jobs ----
  function loadStats() {
    view('stats', '/stats', function (j) {
      var dl = $('stats'); dl.textContent = '';
      [['Connections', j.connections], ['Rooms', j.rooms], ['Messages/s', j.messagesPerSecond.toFixed(2)],
       ['Processes', j.processes.length],
       ['Thread sockets (this httpd)', j.threadSockets ? j.threadSockets.open + ' / ' + j.threadSockets.cap : '—']
      ].forEach(function (c) {
        var d = el('div'); d.appendChild(el('dt', c[0])); d.appendChild(el('dd', String(c[1]))); dl.appendChild(d);
      });
      var tb = $('processes').tBodies[0]; tb.textContent = '';
      if (!j.processes.length) tb.appendChild(note('no chat process has reported (nobody connected)', 6));
      j.processes.forEach(function (p) {
        tb.appendChild(row([el('span', p.node, 'node'), p.pid, p.sessions, p.rooms, (p.messages_per_s || 0).toFixed(2), when(p.updated)]));
      });
      var ai = $('ai-usage').tBodies[0]; ai.textContent = '';
      ['users', 'rooms'].forEach(function (k) {
        var u = (j.ai && j.ai[k]) || {};
        Object.keys(u).sort().forEach(function (name) {
          ai.appendChild(row([(k === 'rooms' ? 'room ' : '') + name, u[name].requests || 0, u[name].tokens || 0]));
        });
      });
      if (!ai.rows.length) ai.appendChild(note('no AI requests yet', 3));
    });
    view('jobs', '/jobs', drawJobs);
  }

  function drawJobs(j) {
    var ul = $('jobs'); ul.textContent = '';
    if (!j.jobs.length) ul.appendChild(el('li', 'no scheduled jobs'));
    j.jobs.forEach(function (job) {
      var li = el('li'), last = job.runs[0];
      li.appendChild(el('strong', job.name));
      li.appendChild(el('span', ' ' + job.kind + ' "' + job.cron + '" (' + job.timeZone + ') → ' +
                                job.rooms.join(', ') + ' · next ' + when(job.next), 'muted'));
      li.appendChild(btn('Run now', function () {
        var seen = last ? last.start : 0;
        call('POST', '/jobs/' + encodeURIComponent(job.name) + '/run').then(function () {
          li.appendChild(el('div', 'queued…', 'muted'));
          waitForRun(job.name, seen, 30);
        }).catch(fail);
      }, 'Run ' + job.name + ' now'));
      if (job.running) li.appendChild(el('div', 'running since ' + when(job.running.start) + ' on ' + job.running.node));
      if (last) {
        li.appendChild(el('div', 'last: ' + when(last.start) + ' ' + last.outcome +
                                 (last.error ? ': ' + last.error : last.summary ? ': ' + last.summary : '') +
                                 (last.manual ? ' (run now)' : ''), last.outcome === 'ok' ? 'ok' : 'failed'));
        // the history: every recorded run with its outcome
        var wrapper = el('div', null, 'scroll');
        wrapper.tabIndex = 0;
        wrapper.setAttribute('role', 'region');
        wrapper.setAttribute('aria-label', 'Runs of ' + job.name);
        var t = el('table', null, 'runs');
        var head = el('tr');
        ['Started', 'Took', 'Outcome', 'Result', 'Process'].forEach(function (h) { var th = el('th', h); th.scope = 'col'; head.appendChild(th); });
        t.appendChild(el('thead')).appendChild(head);
        var tb = t.appendChild(el('tbody'));
        job.runs.forEach(function (r) {
          var tr = row([when(r.start), r.end ? ((r.end - r.start) / 1000).toFixed(1) + ' s' : '—',
                        el('span', r.outcome + (r.manual ? ' (run now)' : ''), r.outcome === 'ok' ? 'ok' : 'failed'),
                        r.error || r.summary || '', r.node || '']);
          tr.dataset.outcome = r.outcome;
          tb.appendChild(tr);
        });
        wrapper.appendChild(t);
        li.appendChild(wrapper);
      }
      ul.appendChild(li);
    });
  }

  // after "Run now": look again each second until a newer run is recorded
  function waitForRun(name, seen, left) {
    call('GET', '/jobs/' + encodeURIComponent(name)).then(function (j) {
      if ((j.runs[0] && j.runs[0].start !== seen) || left <= 0) loadStats();
      else setTimeout(function () { waitForRun(name, seen, left - 1); }, 1000);
    }).catch(fail);
  }

  function tick() {
    ticks++;
    if (current) {
      if ($('live-log').checked) loadLog();
      if (ticks % 2 === 0) loadSessions();
      if (ticks % 5 === 0) { loadMembers(); loadHours(); }
    }
    if (ticks % 5 === 0) loadRooms();
    if (ticks % 10 === 0) loadStats();
  }

  function signedIn() {
    $('signin').hidden = true; $('app').hidden = false; $('signout').hidden = false;
    loadRooms(); loadStats();
    if (!timer) timer = setInterval(tick, 1000);
  }
  function signOut() {
    sessionStorage.removeItem('chatAdminSecret'); secret = '';
    $('signin').hidden = false; $('app').hidden = true; $('signout').hidden = true;
    if (timer) { clearInterval(timer); timer = null; }
  }

  function setTheme(dark) {
    document.documentElement.classList.toggle('dark', dark);
    $('theme').setAttribute('aria-pressed', String(dark));
    localStorage.setItem('chatAdminTheme', dark ? 'dark' : 'light');
  }
  var saved = localStorage.getItem('chatAdminTheme');
  setTheme(saved ? saved === 'dark' : !!(window.matchMedia && matchMedia('(prefers-color-scheme: dark)').matches));
  $('theme').onclick = function () { setTheme(!document.documentElement.classList.contains('dark')); };

  $('signin-form').onsubmit = function (e) {
    e.preventDefault();
    secret = $('secret').value;
    call('GET', '/rooms').then(function () {
      sessionStorage.setItem('chatAdminSecret', secret);
      signedIn();
    }).catch(function (err) { showError('Sign-in failed: ' + err.message); });
  };
  $('signout').onclick = signOut;
  $('new-room').onsubmit = function (e) {
    e.preventDefault();
    var name = $('new-room-name').value.trim();
    call('POST', '/rooms/' + encodeURIComponent(name) + '/members', { username: $('new-room-user').value.trim() })
      .then(function () { $('new-room').reset(); openRoom(name); }).catch(fail);
  };
  $('add-member').onsubmit = function (e) {
    e.preventDefault();
    call('POST', room('/members'), { username: $('member-name').value.trim() })
      .then(function () { $('member-name').value = ''; loadMembers(); loadRooms(); }).catch(fail);
  };
  $('post').onsubmit = function (e) {
    e.preventDefault();
    call('POST', room('/messages'), { text: $('post-text').value })
      .then(function () { $('post-text').value = ''; loadMessages(); loadLog(); loadHours(); }).catch(fail);
  };
  $('older').onclick = function () { loadMessages(true); };
  $('refresh-log').onclick = function () { loadLog(true); };
  $('clear-log').onclick = function () {
    call('DELETE', room('/log')).then(function () { loadLog(true); }).catch(fail);
  };
  $('reset').onclick = function () {
    if (!confirm('Clear the history of ' + current + ' for everyone?')) return;
    call('POST', room('/reset')).then(function () { loadMessages(); loadLog(); }).catch(fail);
  };
  $('remove-all').onclick = function () {
    if (!confirm('Remove every member of ' + current + '? Their sessions close and the room becomes inactive.')) return;
    call('DELETE', room('/members?all=1')).then(function () { loadMembers(); loadSessions(); loadRooms(true); }).catch(fail);
  };
  $('token-form').onsubmit = function (e) {
    e.preventDefault();
    call('POST', '/tokens', { username: $('token-user').value.trim(), ttl: parseInt($('token-ttl').value, 10) })
      .then(function (j) { $('token').value = j.token; }).catch(fail);
  };

  // a narrower window: the chart's box scrolls again to the current hour
  window.addEventListener('resize', function () {
    var box = document.querySelector('#chart .scroll');
    if (box) box.scrollLeft = box.scrollWidth;
  });

  if (secret) signedIn();
})();
