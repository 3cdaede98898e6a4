// Inline SVG icons for the page's controls: no icon font and no emoji, so
// they render with whatever fonts a machine has. Simple 24x24 stroke shapes
// drawn for this page. An icon is decoration (aria-hidden); each control
// carries its own accessible name (text or aria-label).
//   ChatIcons.make(name) -> <svg>;  any element with data-icon="name" gets
//   its icon put in front of its content when this script runs.
(function () {
  'use strict';
  var PHONE = 'M6 3h3l1.5 4.5-2 1.5a12 12 0 0 0 6.5 6.5l1.5-2 4.5 1.5v3a2 2 0 0 1-2 2C10.5 20 4 13.5 4 5a2 2 0 0 1 2-2z';
  var SHAPES = {
    menu: [['path', { d: 'M4 6h16M4 12h16M4 18h16' }]],
    theme: [['circle', { cx: 12, cy: 12, r: 9 }], ['path', { d: 'M12 3a9 9 0 0 1 0 18z', fill: 'currentColor' }]],
    phone: [['path', { d: PHONE }]],
    hangup: [['path', { d: PHONE, transform: 'rotate(135 12 12)' }]],
    video: [['rect', { x: 2, y: 6, width: 13, height: 12, rx: 2 }], ['path', { d: 'M15 10l6-3v10l-6-3z' }]],
    image: [['rect', { x: 3, y: 4, width: 18, height: 16, rx: 2 }], ['circle', { cx: 8.5, cy: 9.5, r: 1.5 }],
            ['path', { d: 'M21 16l-5-5-9 9' }]],
    mic: [['rect', { x: 9, y: 3, width: 6, height: 11, rx: 3 }], ['path', { d: 'M5 11a7 7 0 0 0 14 0M12 18v3M9 21h6' }]],
    send: [['path', { d: 'M3 11l18-8-8 18-2-8z' }], ['path', { d: 'M11 13l10-10' }]],
    trash: [['path', { d: 'M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3' }]],
    explain: [['circle', { cx: 12, cy: 12, r: 9 }],
              ['path', { d: 'M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6V14M12 17v.5' }]],
    describe: [['path', { d: 'M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z' }], ['circle', { cx: 12, cy: 12, r: 3 }]],
    // chat_conv.js: Reply, Copy, Search
    reply: [['path', { d: 'M9 8L4 13l5 5M4 13h11a5 5 0 0 0 5-5V6' }]],
    copy: [['rect', { x: 8, y: 8, width: 12, height: 12, rx: 2 }], ['path', { d: 'M16 8V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h2' }]],
    search: [['circle', { cx: 11, cy: 11, r: 6.5 }], ['path', { d: 'M16 16l5 5' }]]
  };
  var NS = 'http://www.w3.org/2000/svg';
  function make(name) {
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', 'icon icon-' + name);
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    (SHAPES[name] || []).forEach(function (s) {
      var e = document.createElementNS(NS, s[0]);
      Object.keys(s[1]).forEach(function (k) { e.setAttribute(k, s[1][k]); });
      svg.appendChild(e);
    });
    return svg;
  }
  function fill(root) {
    [].slice.call((root || document).querySelectorAll('[data-icon]')).forEach(function (e) {
      if (!e.querySelector('svg.icon')) e.insertBefore(make(e.dataset.icon), e.firstChild);
    });
  }
  window.ChatIcons = { make: make, fill: fill };
  fill(document);
})();
