// Audio and video calls between two users of a room: WebRTC, signalled over
// the chat socket with offer/answer/candidate/call_end (SPEC), which the
// server forwards to every session of the target user. Media flows browser
// to browser; STUN/TURN servers come from ChatIceServer (none on a LAN).
(function () {
  'use strict';
  window.ChatCall = function (o) {
    // o: { send(type, payload), t(key), iceServers(), notify(title, body) }
    var $ = function (id) { return document.getElementById(id); };
    // This page among the callee's sessions: the caller tells the others
    // that the call was taken elsewhere so they stop ringing.
    var tag = Math.random().toString(36).slice(2);
    var call = null;
    var ringTimer = null;

    function setState(s, text) {
      if (!call) return;
      call.state = s;
      document.body.dataset.call = s;
      $('call-state').textContent = text || o.t('call_' + s);
      $('call-accept').hidden = s !== 'ringing';
      $('call-decline').hidden = s !== 'ringing';
      $('call-hangup').hidden = s === 'ringing';
    }

    function open(peer, video, id, state) {
      call = { id: id, peer: peer, video: video, pc: null, stream: null, pending: [], remoteSet: false };
      $('call-title').textContent = (video ? o.t('videoCall') : o.t('audioCall')) + ' · ' + peer;
      $('call').classList.toggle('video', !!video);
      $('call').hidden = false;
      setState(state);
      // focus moves into the overlay: onto Hang up for our own call; for a
      // ringing one onto the box, so an Enter typed for a message accepts nothing
      $(state === 'ringing' ? 'call' : 'call-hangup').focus();
    }

    function close(reasonText) {
      if (!call) return;
      clearTimeout(ringTimer);
      if (call.pc) call.pc.close();
      if (call.stream) call.stream.getTracks().forEach(function (tr) { tr.stop(); });
      $('remote-video').srcObject = null;
      $('local-video').srcObject = null;
      call = null;
      document.body.dataset.call = 'idle';
      $('call').hidden = true;
      if (reasonText) o.banner(reasonText);
    }

    function sendTo(type, extra) {
      var p = { target: call.peer, callId: call.id, tag: tag };
      Object.keys(extra || {}).forEach(function (k) { p[k] = extra[k]; });
      o.send(type, p);
    }

    function media(video) {
      return navigator.mediaDevices.getUserMedia({ audio: true, video: !!video }).then(function (s) {
        call.stream = s;
        $('local-video').srcObject = s;
        return s;
      });
    }

    function peerConnection() {
      var pc = new RTCPeerConnection({ iceServers: o.iceServers() });
      var c = call;
      pc.onicecandidate = function (e) {
        if (e.candidate && call === c) sendTo('candidate', { candidate: e.candidate.toJSON() });
      };
      pc.ontrack = function (e) {
        var v = $('remote-video');
        if (v.srcObject !== e.streams[0]) { v.srcObject = e.streams[0]; v.play().catch(function () {}); }
      };
      pc.onconnectionstatechange = function () {
        if (call !== c) return;
        if (pc.connectionState === 'connected') { clearTimeout(ringTimer); setState('connected'); }
        else if (pc.connectionState === 'failed') { sendTo('call_end', { reason: 'failed' }); close(o.t('callFailed')); }
      };
      call.pc = pc;
      return pc;
    }

    function fail(e) {
      if (!call) return;
      sendTo('call_end', { reason: 'failed' });
      close(o.t('callFailed') + (e && e.message ? ' ' + e.message : ''));
    }

    function flushCandidates() {
      call.remoteSet = true;
      call.pending.forEach(function (c) { call.pc.addIceCandidate(c).catch(function () {}); });
      call.pending = [];
    }

    function start(peer, video) {
      if (call || !window.RTCPeerConnection || !navigator.mediaDevices) {
        if (!call) o.banner(o.t('noCalls'));
        return;
      }
      open(peer, video, Date.now().toString(36) + tag, 'calling');
      var c = call;
      media(video).then(function (s) {
        if (call !== c) throw new Error('ended');
        var pc = peerConnection();
        s.getTracks().forEach(function (tr) { pc.addTrack(tr, s); });
        return pc.createOffer();
      }).then(function (offer) {
        return call.pc.setLocalDescription(offer);
      }).then(function () {
        sendTo('offer', { sdp: call.pc.localDescription.sdp, video: !!video });
        ringTimer = setTimeout(function () {
          if (call === c && c.state === 'calling') { sendTo('call_end', { reason: 'timeout' }); close(o.t('noAnswer')); }
        }, 45000);
      }).catch(function (e) { if (call === c) fail(e); });
    }

    function accept() {
      var c = call;
      if (!c || c.state !== 'ringing') return;
      clearTimeout(ringTimer);
      setState('connecting');
      media(c.video).then(function (s) {
        var pc = peerConnection();
        s.getTracks().forEach(function (tr) { pc.addTrack(tr, s); });
        return pc.setRemoteDescription({ type: 'offer', sdp: c.offer });
      }).then(function () {
        flushCandidates();
        return call.pc.createAnswer();
      }).then(function (answer) {
        return call.pc.setLocalDescription(answer);
      }).then(function () {
        sendTo('answer', { sdp: call.pc.localDescription.sdp });
      }).catch(function (e) { if (call === c) fail(e); });
    }

    function handle(type, p) {
      if (type === 'offer') {
        if (call && call.id !== p.callId) {
          // busy: one call at a time
          o.send('call_end', { target: p.from, callId: p.callId, tag: tag, reason: 'busy' });
          return;
        }
        if (call) return;
        open(p.from, !!p.video, p.callId, 'ringing');
        call.offer = p.sdp;
        o.notify(p.from, call.video ? o.t('videoCall') : o.t('audioCall'));
        var c = call;
        ringTimer = setTimeout(function () { if (call === c && c.state === 'ringing') close(); }, 45000);
        return;
      }
      if (!call || call.id !== p.callId || p.from !== call.peer) return;
      if (type === 'answer' && call.state === 'calling' && call.pc) {
        call.peerTag = p.tag;
        setState('connecting');
        // the callee's other pages stop ringing
        sendTo('call_end', { reason: 'answered_elsewhere', keep: p.tag });
        call.pc.setRemoteDescription({ type: 'answer', sdp: p.sdp }).then(flushCandidates).catch(fail);
      } else if (type === 'candidate' && p.candidate) {
        if (call.peerTag && p.tag !== call.peerTag) return;
        if (call.remoteSet) call.pc.addIceCandidate(p.candidate).catch(function () {});
        else call.pending.push(p.candidate);
      } else if (type === 'call_end') {
        if (p.keep === tag) return; // we are the page that took the call
        var why = { declined: 'callDeclined', busy: 'callBusy', timeout: 'noAnswer', failed: 'callFailed',
                    answered_elsewhere: '' }[p.reason];
        close(why === '' ? '' : o.t(why || 'callEnded'));
      }
    }

    $('call-accept').onclick = accept;
    $('call-decline').onclick = function () {
      if (call) { sendTo('call_end', { reason: 'declined' }); close(); }
    };
    $('call-hangup').onclick = function () {
      if (call) { sendTo('call_end', { reason: 'hangup' }); close(); }
    };
    document.body.dataset.call = 'idle';

    return {
      start: start,
      handle: handle,
      // the peer left the room: nobody is there to answer or talk to
      peerLeft: function (name) { if (call && call.peer === name) close(o.t('callEnded')); },
      pc: function () { return call && call.pc; },
      active: function () { return !!call; }
    };
  };
})();
