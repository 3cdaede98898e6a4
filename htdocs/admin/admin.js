// The admin page: plain JS over /chat-admin/api (docs/ADMIN_API.md). The
// secret stays in sessionStorage of this tab; nothing user-supplied is ever
// inserted as HTML.
(function () {
  'use strict';
  var API = location.pathname.replace(/\/[^/]*$/, '') + '/api';
  var $ = function (id) { return document.getElementById(id); };
  var secret = sessionStorage.getItem('chatAdminSecret') || '';
  var current = null, oldest = 0;

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

  function el(tag, text, cls) {
    var x = document.createElement(tag);
    if (text !== undefined) x.textContent = text;
    if (cls) x.className = cls;
    return x;
  }
  function btn(text, onclick) { var b = el('button', text); b.type = 'button'; b.onclick = onclick; return b; }
  function when(ms) { return ms ? new Date(ms).toLocaleString() : '—'; }

  function loadRooms() {
    return call('GET', '/rooms').then(function (j) {
      var tb = $('rooms').tBodies[0];
      tb.textContent = '';
      j.rooms.sort(function (a, b) { return a.name < b.name ? -1 : 1; }).forEach(function (r) {
        var tr = el('tr');
        tr.dataset.room = r.name;
        if (r.name === current) tr.className = 'selected';
        [r.name, r.members, r.online, when(r.lastActivity)].forEach(function (v) { tr.appendChild(el('td', String(v))); });
        var td = el('td'); td.appendChild(btn('Open', function () { openRoom(r.name); })); tr.appendChild(td);
        tb.appendChild(tr);
      });
    }).catch(fail);
  }

  function openRoom(name) {
    current = name; oldest = 0;
    $('room').hidden = false;
    $('room-name').textContent = name;
    $('messages').textContent = '';
    loadRooms(); loadMembers(); loadMessages(); loadLog();
  }

  function loadMembers() {
    return call('GET', '/rooms/' + current + '/members').then(function (j) {
      var ul = $('members'); ul.textContent = '';
      j.members.forEach(function (m) {
        var li = el('li', m);
        li.appendChild(btn('Remove', function () {
          call('DELETE', '/rooms/' + current + '/members?username=' + encodeURIComponent(m))
            .then(function () { loadMembers(); loadRooms(); }).catch(fail);
        }));
        ul.appendChild(li);
      });
    }).catch(fail);
  }

  function messageItem(m) {
    var li = el('li');
    li.dataset.id = m.id;
    li.appendChild(el('span', when(m.timestamp), 'meta'));
    li.appendChild(el('strong', m.username + ': '));
    li.appendChild(document.createTextNode(m.text || m.imageUrl || m.audioUrl || ''));
    li.appendChild(btn('Delete', function () {
      call('DELETE', '/rooms/' + current + '/messages/' + encodeURIComponent(m.id))
        .then(function () { li.remove(); }).catch(fail);
    }));
    return li;
  }

  function loadMessages(older) {
    var q = '?limit=50' + (older && oldest ? '&beforeSeq=' + oldest : '');
    return call('GET', '/rooms/' + current + '/messages' + q).then(function (j) {
      var ul = $('messages');
      if (!older) ul.textContent = '';
      var first = ul.firstChild;
      j.messages.forEach(function (m) { ul.insertBefore(messageItem(m), first); });
      if (j.messages.length) oldest = j.messages[0].seq;
      $('older').hidden = !j.hasMore;
    }).catch(fail);
  }

  function loadLog() {
    return call('GET', '/rooms/' + current + '/log?limit=100').then(function (j) {
      var ul = $('log'); ul.textContent = '';
      j.entries.forEach(function (e) {
        var li = el('li');
        li.appendChild(el('span', when(e.ts), 'meta'));
        li.appendChild(document.createTextNode(e.event + ' ' + e.username + (e.detail ? ': ' + e.detail : '')));
        ul.appendChild(li);
      });
    }).catch(fail);
  }

  function loadStats() {
    call('GET', '/stats').then(function (j) {
      $('stats').textContent = 'connections ' + j.connections + ', rooms ' + j.rooms +
        ', messages/s ' + j.messagesPerSecond.toFixed(2) + '\n' +
        j.processes.map(function (p) { return 'pid ' + p.pid + ': ' + p.sessions + ' sessions, ' + p.rooms + ' rooms'; }).join('\n');
    }).catch(fail);
    call('GET', '/jobs').then(function (j) {
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
        }));
        if (job.running) li.appendChild(el('div', 'running since ' + when(job.running.start) + ' on ' + job.running.node));
        if (last) {
          li.appendChild(el('div', 'last: ' + when(last.start) + ' ' + last.outcome +
                                   (last.error ? ': ' + last.error : last.summary ? ': ' + last.summary : '') +
                                   (last.manual ? ' (run now)' : ''), last.outcome === 'ok' ? 'ok' : 'failed'));
        }
        ul.appendChild(li);
      });
    }).catch(fail);
  }

  // after "Run now": look again each second until a newer run is recorded
  function waitForRun(name, seen, left) {
    call('GET', '/jobs/' + encodeURIComponent(name)).then(function (j) {
      if ((j.runs[0] && j.runs[0].start !== seen) || left <= 0) loadStats();
      else setTimeout(function () { waitForRun(name, seen, left - 1); }, 1000);
    }).catch(fail);
  }

  function signedIn() {
    $('signin').hidden = true; $('app').hidden = false; $('signout').hidden = false;
    loadRooms(); loadStats();
  }
  function signOut() {
    sessionStorage.removeItem('chatAdminSecret'); secret = '';
    $('signin').hidden = false; $('app').hidden = true; $('signout').hidden = true;
  }

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
    var room = $('new-room-name').value.trim();
    call('POST', '/rooms/' + encodeURIComponent(room) + '/members', { username: $('new-room-user').value.trim() })
      .then(function () { $('new-room').reset(); openRoom(room); }).catch(fail);
  };
  $('add-member').onsubmit = function (e) {
    e.preventDefault();
    call('POST', '/rooms/' + current + '/members', { username: $('member-name').value.trim() })
      .then(function () { $('member-name').value = ''; loadMembers(); loadRooms(); }).catch(fail);
  };
  $('post').onsubmit = function (e) {
    e.preventDefault();
    call('POST', '/rooms/' + current + '/messages', { text: $('post-text').value })
      .then(function () { $('post-text').value = ''; loadMessages(); loadLog(); }).catch(fail);
  };
  $('older').onclick = function () { loadMessages(true); };
  $('refresh-log').onclick = loadLog;
  $('reset').onclick = function () {
    if (!confirm('Clear the history of ' + current + ' for everyone?')) return;
    call('POST', '/rooms/' + current + '/reset').then(function () { loadMessages(); loadLog(); }).catch(fail);
  };
  $('token-form').onsubmit = function (e) {
    e.preventDefault();
    call('POST', '/tokens', { username: $('token-user').value.trim(), ttl: parseInt($('token-ttl').value, 10) })
      .then(function (j) { $('token').value = j.token; }).catch(fail);
  };

  if (secret) signedIn();
})();
