/*! Yoosr chat widget. One file, no dependencies, no build step.
 *
 *   <script src="https://…/yoosr-widget.js" data-widget-key="wk.…"
 *           data-api-url="https://api.…" async></script>
 *
 * Optional: data-user-id + data-user-hash (HMAC-SHA256 of the user id with the workspace's
 * identity secret, computed by the site's server) for identity verification.
 * The widget renders in a shadow root; it keeps only the opaque session token and ids in the
 * host page's localStorage. window.Yoosr.open() / .close() / .toggle() control it.
 */
(function () {
  'use strict';

  var script =
    document.currentScript || document.querySelector('script[data-widget-key]');
  if (!script || window.Yoosr) return;
  var KEY = script.getAttribute('data-widget-key') || '';
  var API = (script.getAttribute('data-api-url') || new URL(script.src).origin).replace(/\/+$/, '');
  var USER_ID = script.getAttribute('data-user-id') || null;
  var USER_HASH = script.getAttribute('data-user-hash') || null;
  if (!KEY) {
    console.warn('Yoosr widget: data-widget-key is missing');
    return;
  }

  var STORE = 'yoosr:' + KEY;
  var POLL_OPEN_MS = 2500;
  var POLL_CLOSED_MS = 10000;
  var POLL_HIDDEN_MS = 15000;
  var POLL_MAX_MS = 60000;
  var RETRY_MAX_MS = 30000;
  var SEND_ATTEMPTS = 8;
  // Messages may be committed a moment after their (time-ordered) id was made, so the cursor
  // stays this far behind the newest message and recent ones are read again (deduplicated).
  var CURSOR_LAG_MS = 10000;
  var TERMINAL = ['completed', 'denied', 'cancelled', 'failed'];
  var STATUS_TEXT = {
    received: 'Received',
    queued: 'Received, waiting to start',
    awaiting_verification: 'Waiting for the code we emailed you',
    awaiting_approval: 'Waiting for approval',
    in_progress: 'In progress',
    completed: 'Done',
    denied: 'Declined',
    cancelled: 'Cancelled',
    failed: 'Could not be completed yet'
  };

  // ------------------------------------------------------------------ state

  var S = {
    config: null,
    session: null, // {token, visitor_id, expires_at}
    conversationId: null,
    ccid: null, // client id of the conversation being started
    conversation: null,
    messages: {}, // id -> message
    seen: [], // sorted message ids
    outbox: [], // {cmid, kind, text, reply_value, state, attempt, error}
    flushing: false,
    open: false,
    view: 'chat',
    unread: 0,
    offline: !navigator.onLine,
    rateUntil: 0,
    pollErrors: 0,
    hiddenTicks: 0,
    fastUntil: 0,
    pollTimer: null,
    wake: null,
    privacy: [], // [{id, type, status, …}]
    blocked: null,
    ended: null
  };

  function store() {
    try {
      return JSON.parse(localStorage.getItem(STORE) || '{}') || {};
    } catch (e) {
      return {};
    }
  }
  function persist() {
    var data = {
      token: S.session && S.session.token,
      visitor_id: S.session && S.session.visitor_id,
      expires_at: S.session && S.session.expires_at,
      conversation_id: S.conversationId,
      ccid: S.ccid,
      open: S.open,
      privacy: S.privacy.map(function (r) {
        return r.id;
      }),
      uh: USER_HASH || USER_ID ? USER_HASH || 'unverified' : null
    };
    try {
      localStorage.setItem(STORE, JSON.stringify(data));
    } catch (e) {
      /* storage disabled: the session lasts as long as the page */
    }
  }

  // ------------------------------------------------------------------ HTTP

  function ApiError(status, code, message, retryAfter) {
    this.status = status;
    this.code = code;
    this.message = message || code || 'error';
    this.retryAfter = retryAfter;
  }

  function request(method, path, body, opts) {
    opts = opts || {};
    var headers = { 'X-Yoosr-Widget-Key': KEY, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.auth !== false && S.session) headers.Authorization = 'Bearer ' + S.session.token;
    return fetch(API + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store'
    }).then(
      function (res) {
        S.offline = false;
        if (opts.raw) return res;
        return res.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (e) {
            data = null;
          }
          if (res.ok) return { status: res.status, data: data };
          var err = (data && data.error) || {};
          var after = parseFloat(res.headers.get('Retry-After') || '');
          throw new ApiError(res.status, err.code, err.message, isNaN(after) ? null : after);
        });
      },
      function () {
        if (!navigator.onLine) S.offline = true;
        throw new ApiError(0, 'network', 'network');
      }
    );
  }

  function retryable(err) {
    return err.status === 0 || err.status === 429 || err.status >= 500;
  }

  function backoff(attempt) {
    var base = Math.min(RETRY_MAX_MS, 1000 * Math.pow(2, attempt));
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  // A wait that ends early when the browser comes back online or the visitor asks.
  function pause(ms) {
    return new Promise(function (resolve) {
      var timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        if (S.wake === done) S.wake = null;
        resolve();
      }
      S.wake = done;
    });
  }

  function deleting() {
    return S.privacy.some(function (r) {
      return r.type === 'delete' && ['denied', 'cancelled', 'failed'].indexOf(r.status) < 0;
    });
  }

  function failed(err) {
    if (err.status === 401) {
      // A deletion of this session's data ends the session too.
      endSession(deleting() ? 'deleted' : 'expired');
      return true;
    }
    if (err.status === 403) {
      S.blocked = err.message;
      render();
      return true;
    }
    if (err.status === 429) {
      S.rateUntil = Date.now() + 1000 * (err.retryAfter || 10);
      renderStatus();
      setTimeout(renderStatus, 1000 * (err.retryAfter || 10) + 50);
    }
    return false;
  }

  // ------------------------------------------------------------------ session

  var sessionPromise = null;

  function ensureSession() {
    if (S.session && Date.parse(S.session.expires_at) > Date.now() + 60000) {
      return Promise.resolve();
    }
    if (sessionPromise) return sessionPromise;
    var body = { page_url: location.origin + location.pathname };
    if (USER_ID) {
      body.identity = { user_id: USER_ID };
      if (USER_HASH) body.identity.user_hash = USER_HASH;
    }
    sessionPromise = request('POST', '/v1/widget/sessions', body, { auth: false })
      .then(function (r) {
        S.session = {
          token: r.data.session_token,
          visitor_id: r.data.visitor_id,
          expires_at: r.data.expires_at
        };
        S.ended = null;
        persist();
      })
      .finally(function () {
        sessionPromise = null;
      });
    return sessionPromise;
  }

  // The session is gone (expired, or the visitor's data was deleted): start afresh.
  function endSession(reason) {
    S.session = null;
    S.conversationId = null;
    S.conversation = null;
    S.ccid = null;
    S.messages = {};
    S.seen = [];
    S.loaded = false;
    S.outbox = [];
    S.privacy = [];
    S.ended = reason;
    clearTimeout(S.pollTimer);
    persist();
    dom.log.textContent = '';
    render();
  }

  // ------------------------------------------------------------------ sending

  function newId(prefix) {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    var hex = '';
    for (var i = 0; i < bytes.length; i++) hex += (bytes[i] + 256).toString(16).slice(1);
    return prefix + '-' + hex;
  }

  function enqueue(item) {
    item.cmid = item.cmid || newId('m');
    item.state = 'sending';
    item.attempt = 0;
    S.outbox.push(item);
    if (item.kind === 'message') renderPending(item);
    flush();
  }

  function deliver(item) {
    return ensureSession().then(function () {
      var message = item.kind === 'message' ? { client_message_id: item.cmid, text: item.text } : null;
      if (message && item.reply_value) message.reply_value = item.reply_value;
      if (!S.conversationId) {
        if (!S.ccid) {
          S.ccid = newId('c');
          persist();
        }
        var body = { client_conversation_id: S.ccid };
        if (message) body.message = message;
        return request('POST', '/v1/widget/conversations', body).then(function (r) {
          adoptConversation(r.data);
          if (r.data.message) addMessages([r.data.message], false);
        });
      }
      if (!message) return null;
      return request(
        'POST',
        '/v1/widget/conversations/' + encodeURIComponent(S.conversationId) + '/messages',
        message
      ).then(function (r) {
        addMessages([r.data], false);
      });
    });
  }

  function flush() {
    if (S.flushing) return;
    S.flushing = true;
    (function next() {
      var item = S.outbox[0];
      if (!item) {
        S.flushing = false;
        return;
      }
      item.state = 'sending';
      renderPending(item);
      deliver(item).then(
        function () {
          S.outbox.shift();
          removePending(item);
          S.fastUntil = Date.now() + 15000;
          schedulePoll(800);
          next();
        },
        function (err) {
          if (err.status === 401 && !item.renewed) {
            // The session ended (expired or deleted): a new session carries the messages on.
            var keep = S.outbox.slice();
            endSession(deleting() ? 'deleted' : 'expired');
            S.outbox = keep;
            keep.forEach(function (i) {
              i.renewed = true;
              renderPending(i);
            });
            next();
            return;
          }
          failed(err);
          if (err.status === 0 && !navigator.onLine) {
            // Offline: wait for the 'online' event (or a while) without using up attempts.
            item.state = 'retrying';
            renderPending(item);
            renderStatus();
            pause(RETRY_MAX_MS).then(next);
            return;
          }
          if (retryable(err) && item.attempt < SEND_ATTEMPTS) {
            item.attempt += 1;
            item.state = 'retrying';
            renderPending(item);
            renderStatus();
            var wait = err.status === 429 ? 1000 * (err.retryAfter || 5) : backoff(item.attempt);
            pause(wait).then(next);
            return;
          }
          S.outbox.shift();
          item.state = 'failed';
          item.error =
            err.status === 422
              ? 'This message could not be sent (it may be too long).'
              : err.status === 403
                ? 'Chat is not available on this site.'
                : 'Not sent.';
          renderPending(item);
          next();
        }
      );
    })();
  }

  function retryItem(item) {
    removePending(item);
    enqueue(item); // the same client id: the server never stores it twice
  }

  // ------------------------------------------------------------------ receiving

  function adoptConversation(conversation) {
    var first = !S.conversationId;
    S.conversationId = conversation.id;
    S.conversation = conversation;
    S.ccid = null;
    persist();
    if (first) schedulePoll(1000);
    render();
  }

  function addMessages(items, fromPoll) {
    var fresh = 0;
    for (var i = 0; i < items.length; i++) {
      var m = items[i];
      if (S.messages[m.id]) continue;
      S.messages[m.id] = m;
      insertSorted(m.id);
      renderMessage(m);
      if (m.client_message_id) dropEchoOf(m.client_message_id);
      if (m.sender_type !== 'visitor') fresh += 1;
    }
    if (fresh && fromPoll && S.loaded && (!S.open || document.hidden)) {
      S.unread += fresh;
      renderLauncher();
    }
    if (items.length) renderButtons();
  }

  function insertSorted(id) {
    var i = S.seen.length;
    while (i > 0 && S.seen[i - 1] > id) i -= 1;
    S.seen.splice(i, 0, id);
  }

  function cursor() {
    if (!S.seen.length) return null;
    var newest = Date.parse(S.messages[S.seen[S.seen.length - 1]].created_at);
    for (var i = S.seen.length - 1; i >= 0; i--) {
      if (Date.parse(S.messages[S.seen[i]].created_at) <= newest - CURSOR_LAG_MS) return S.seen[i];
    }
    return null;
  }

  function fetchMessages(after, guard) {
    var q = '?limit=50' + (after ? '&after=' + encodeURIComponent(after) : '');
    var id = S.conversationId;
    return request('GET', '/v1/widget/conversations/' + encodeURIComponent(id) + '/messages' + q).then(
      function (r) {
        if (id !== S.conversationId) return null;
        addMessages(r.data.items, true);
        if (r.data.next_cursor && (guard || 0) < 20) return fetchMessages(r.data.next_cursor, (guard || 0) + 1);
        S.loaded = true;
        return null;
      }
    );
  }

  function fetchConversation() {
    var id = S.conversationId;
    return request('GET', '/v1/widget/conversations?limit=20').then(function (r) {
      var found = null;
      for (var i = 0; i < r.data.items.length; i++) {
        if (r.data.items[i].id === id) found = r.data.items[i];
      }
      if (found && id === S.conversationId) {
        S.conversation = found;
        render();
      }
    });
  }

  function schedulePoll(delay) {
    clearTimeout(S.pollTimer);
    if (!S.session || !S.conversationId) return;
    S.pollTimer = setTimeout(poll, delay);
  }

  function nextDelay() {
    var now = Date.now();
    var delay;
    if (document.hidden) {
      delay = Math.min(POLL_MAX_MS, POLL_HIDDEN_MS * Math.pow(2, S.hiddenTicks));
      S.hiddenTicks += 1;
    } else {
      delay = S.open ? POLL_OPEN_MS : POLL_CLOSED_MS;
      if (S.fastUntil > now) delay = Math.min(delay, 1500);
    }
    if (S.pollErrors) delay = Math.max(delay, backoff(S.pollErrors));
    if (S.rateUntil > now) delay = Math.max(delay, S.rateUntil - now + 100);
    return delay;
  }

  function poll() {
    if (!S.session || !S.conversationId) return;
    fetchMessages(cursor())
      .then(fetchConversation)
      .then(
        function () {
          S.pollErrors = 0;
          renderStatus();
        },
        function (err) {
          if (err.status === 404) {
            // The conversation is gone (deleted): back to the welcome view.
            forgetConversation();
            return;
          }
          if (failed(err) && err.status !== 429) return;
          S.pollErrors += 1;
          renderStatus();
        }
      )
      .then(function () {
        schedulePoll(nextDelay());
      });
  }

  // ------------------------------------------------------------------ actions

  function startChat() {
    if (S.conversationId || S.outbox.some(isStart)) return;
    enqueue({ kind: 'start' });
    dom.input.focus();
  }
  function isStart(item) {
    return item.kind === 'start';
  }

  function send(text, replyValue) {
    text = (text || '').trim();
    if (!text) return;
    var limit = (S.config && S.config.limits && S.config.limits.message_max_chars) || 4000;
    if (text.length > limit) {
      setAlert('Messages can be at most ' + limit + ' characters.');
      return;
    }
    setAlert('');
    enqueue({ kind: 'message', text: text, reply_value: replyValue || null });
  }

  function askHuman() {
    if (!S.conversationId) {
      send('I would like to talk to a person');
      return;
    }
    dom.human.disabled = true;
    request('POST', '/v1/widget/conversations/' + encodeURIComponent(S.conversationId) + '/handoff', {})
      .then(
        function (r) {
          S.conversation = r.data;
          render();
          schedulePoll(500);
        },
        function (err) {
          if (!failed(err)) setAlert('We could not reach our team just now. Please try again.');
        }
      )
      .then(function () {
        dom.human.disabled = false;
      });
  }

  function rate(rating, comment) {
    var id = S.conversationId;
    var body = { rating: rating };
    if (comment) body.comment = comment;
    dom.csatSend.disabled = true;
    return request('POST', '/v1/widget/conversations/' + encodeURIComponent(id) + '/csat', body).then(
      function () {
        if (S.conversation) S.conversation.csat_rating = rating;
        render();
        dom.thanks.focus();
      },
      function (err) {
        dom.csatSend.disabled = false;
        if (err.status === 409) {
          if (S.conversation) S.conversation.csat_rating = rating;
          render();
        } else if (!failed(err)) {
          setAlert('Your rating could not be sent. Please try again.');
        }
      }
    );
  }

  function forgetConversation() {
    S.conversationId = null;
    S.conversation = null;
    S.messages = {};
    S.seen = [];
    S.loaded = false;
    clearTimeout(S.pollTimer);
    dom.log.textContent = '';
    dom.replies.hidden = true;
    persist();
    render();
  }

  function newConversation() {
    forgetConversation();
    startChat();
  }

  // ------------------------------------------------------------------ privacy requests

  function privacyPath(id, rest) {
    return '/v1/widget/privacy-requests' + (id ? '/' + encodeURIComponent(id) : '') + (rest || '');
  }

  function requestPrivacy(type) {
    if (!S.session) {
      setDataNote('We hold no data from this browser yet: you have not chatted with us.');
      return;
    }
    setDataNote(type === 'export' ? 'Requesting a copy…' : 'Requesting deletion…');
    request('POST', privacyPath(), { type: type }).then(
      function (r) {
        upsertPrivacy(r.data);
        setDataNote(
          type === 'export'
            ? 'Request received. We will prepare a copy of your data.'
            : 'Request received. Your data will be deleted.'
        );
        watchPrivacy();
      },
      function (err) {
        if (err.status === 404 || err.status === 405) {
          setDataNote('Data requests are not available here yet.');
        } else if (!failed(err)) {
          setDataNote('Your request could not be sent. Please try again.');
        }
      }
    );
  }

  function upsertPrivacy(req) {
    for (var i = 0; i < S.privacy.length; i++) {
      if (S.privacy[i].id === req.id) {
        S.privacy[i] = req;
        persist();
        renderPrivacy();
        return;
      }
    }
    S.privacy.unshift(req);
    persist();
    renderPrivacy();
  }

  var privacyTimer = null;
  function watchPrivacy() {
    clearTimeout(privacyTimer);
    var open = S.privacy.filter(function (r) {
      return TERMINAL.indexOf(r.status) < 0;
    });
    if (!open.length || !S.session) return;
    privacyTimer = setTimeout(function () {
      Promise.all(
        open.map(function (r) {
          return request('GET', privacyPath(r.id)).then(function (res) {
            upsertPrivacy(res.data);
            if (res.data.type === 'delete' && res.data.status === 'completed') {
              endSession('deleted');
            }
          });
        })
      ).then(watchPrivacy, function (err) {
        if (!failed(err)) privacyTimer = setTimeout(watchPrivacy, backoff(2));
      });
    }, document.hidden ? POLL_HIDDEN_MS : 3000);
  }

  function download(req) {
    if (req.download_url) {
      save(req.download_url);
      return;
    }
    setDataNote('Preparing your download…');
    request('GET', privacyPath(req.id, '/download'), undefined, { raw: true }).then(
      function (res) {
        var type = res.headers.get('Content-Type') || '';
        if (!res.ok) {
          setDataNote('The download is not available. Please request a new copy.');
          return null;
        }
        if (type.indexOf('application/json') >= 0) {
          return res.json().then(function (data) {
            var url = data && (data.url || data.download_url);
            if (url) save(url);
            else setDataNote('The download is not available. Please request a new copy.');
          });
        }
        return res.blob().then(function (blob) {
          save(URL.createObjectURL(blob), 'yoosr-data-' + req.id + '.zip');
        });
      },
      function () {
        setDataNote('The download could not be started. Please try again.');
      }
    );
  }

  function save(url, name) {
    var a = document.createElement('a');
    a.href = url;
    a.rel = 'noopener';
    if (name) a.download = name;
    else a.target = '_blank';
    a.style.setProperty('display', 'none');
    root.appendChild(a);
    a.click();
    a.remove();
    setDataNote('Your download has started.');
  }

  function loadPrivacy(ids) {
    if (!ids || !ids.length || !S.session) return;
    ids.forEach(function (id) {
      request('GET', privacyPath(id)).then(
        function (r) {
          upsertPrivacy(r.data);
          watchPrivacy();
        },
        function () {
          /* gone or not available: forget it */
        }
      );
    });
  }

  // ------------------------------------------------------------------ DOM

  function h(tag, attrs) {
    var el = document.createElement(tag);
    for (var name in attrs || {}) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) continue;
      if (name === 'text') el.textContent = value;
      else if (name.slice(0, 2) === 'on') el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? '' : value);
    }
    for (var i = 2; i < arguments.length; i++) {
      if (arguments[i]) el.appendChild(arguments[i]);
    }
    return el;
  }

  function icon(path, size) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', size || 24);
    svg.setAttribute('height', size || 24);
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var p = document.createElementNS(ns, 'path');
    p.setAttribute('d', path);
    p.setAttribute('fill', 'currentColor');
    svg.appendChild(p);
    return svg;
  }
  var CHAT_ICON =
    'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8.5L4 21.5V18a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z';
  var CLOSE_ICON =
    'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z';
  var SEND_ICON = 'M3 20.5 21 12 3 3.5v6.6L15 12 3 13.9z';

  var CSS =
    ':host{all:initial}' +
    '*,*::before,*::after{box-sizing:border-box}' +
    '[hidden]{display:none!important}' +
    '.w{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#111827;-webkit-font-smoothing:antialiased}' +
    'button,textarea,input{font:inherit;color:inherit}' +
    'button{cursor:pointer}' +
    ':focus-visible{outline:3px solid #1D4ED8;outline-offset:2px}' +
    '.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}' +
    '.launcher{position:fixed;bottom:20px;right:20px;width:60px;height:60px;border-radius:50%;border:0;background:var(--accent);color:var(--on-accent);box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;padding:0;z-index:2147483000}' +
    '.left .launcher{right:auto;left:20px}' +
    '.badge{position:absolute;top:-2px;right:-2px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#B91C1C;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center}' +
    '.panel{position:fixed;bottom:92px;right:20px;width:376px;height:min(620px,calc(100vh - 112px));background:#fff;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.28);display:flex;flex-direction:column;overflow:hidden;z-index:2147483001}' +
    '.left .panel{right:auto;left:20px}' +
    '.head{background:var(--accent);color:var(--on-accent);padding:12px 12px 12px 16px;display:flex;align-items:center;gap:8px}' +
    '.head h2{font-size:17px;margin:0;font-weight:650;flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}' +
    '.head p{margin:0;font-size:13px;opacity:.95}' +
    '.titles{flex:1;min-width:0}' +
    '.iconbtn{background:transparent;border:0;color:inherit;width:40px;height:40px;border-radius:8px;display:flex;align-items:center;justify-content:center;padding:0}' +
    '.iconbtn:hover{background:rgba(0,0,0,.12)}' +
    '.head :focus-visible{outline-color:currentColor}' +
    '.tools{display:flex;gap:8px;padding:8px 12px;border-bottom:1px solid #E5E7EB;background:#F9FAFB}' +
    '.tool{background:#fff;border:1px solid #9CA3AF;border-radius:999px;padding:4px 12px;font-size:13px;color:#1F2937}' +
    '.tool:hover{background:#F3F4F6}' +
    '.status{padding:8px 14px;font-size:13px;background:#FEF3C7;color:#78350F;border-bottom:1px solid #FCD34D}' +
    '.status.info{background:#EFF6FF;color:#1E3A8A;border-color:#BFDBFE}' +
    '.body{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:8px;overscroll-behavior:contain}' +
    '.welcome{background:#F3F4F6;border-radius:12px;padding:12px 14px}' +
    '.welcome p{margin:0 0 10px}' +
    '.primary{background:var(--accent);color:var(--on-accent);border:0;border-radius:8px;padding:9px 16px;font-weight:600}' +
    '.secondary{background:#fff;color:#1F2937;border:1px solid #6B7280;border-radius:8px;padding:8px 14px}' +
    '.danger{background:#B91C1C;color:#fff;border:0;border-radius:8px;padding:9px 16px;font-weight:600}' +
    '.log{display:flex;flex-direction:column;gap:8px;margin:0;padding:0;list-style:none}' +
    '.msg{max-width:85%;padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere;align-self:flex-start;background:#F3F4F6;color:#111827}' +
    '.msg.visitor{align-self:flex-end;background:var(--accent);color:var(--on-accent);border-bottom-right-radius:4px}' +
    '.msg.bot,.msg.agent{border-bottom-left-radius:4px}' +
    '.msg.agent{background:#E0E7FF;color:#1E1B4B}' +
    '.msg.system{align-self:center;background:transparent;color:#4B5563;font-size:13px;text-align:center;max-width:100%}' +
    '.who{display:block;font-size:12px;font-weight:600;color:#374151;margin-bottom:2px}' +
    '.msg.visitor .who{display:none}' +
    '.meta{display:block;font-size:11px;opacity:.8;margin-top:2px}' +
    '.msg.pending{opacity:.75}' +
    '.msg.failed{background:#FEE2E2;color:#7F1D1D}' +
    '.retry{background:#fff;color:#7F1D1D;border:1px solid #7F1D1D;border-radius:6px;padding:2px 8px;font-size:12px;margin-top:4px}' +
    '.replies{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 4px}' +
    '.reply{background:#fff;color:var(--accent-text);border:1.5px solid var(--accent-text);border-radius:999px;padding:6px 14px;font-weight:600}' +
    '.reply:hover{background:#F3F4F6}' +
    '.card{border:1px solid #D1D5DB;border-radius:12px;padding:12px 14px;background:#fff}' +
    '.card h3{font-size:15px;margin:0 0 8px}' +
    '.card p{margin:0 0 8px}' +
    'fieldset{border:0;margin:0;padding:0}' +
    'legend{font-weight:600;margin-bottom:8px;padding:0}' +
    '.stars{display:flex;gap:4px;margin-bottom:8px}' +
    '.stars input{position:absolute;opacity:0;width:1px;height:1px}' +
    '.stars label{display:flex;align-items:center;justify-content:center;width:40px;height:40px;border:1.5px solid #6B7280;border-radius:8px;font-weight:700;cursor:pointer;background:#fff}' +
    '.stars input:checked+label{background:var(--accent);color:var(--on-accent);border-color:var(--accent)}' +
    '.stars input:focus-visible+label{outline:3px solid #1D4ED8;outline-offset:2px}' +
    'textarea.comment{width:100%;min-height:56px;border:1px solid #6B7280;border-radius:8px;padding:6px 8px;margin-bottom:8px;resize:vertical}' +
    '.alert{color:#991B1B;font-size:13px;padding:0 14px}' +
    '.alert:empty{display:none}' +
    '.compose{display:flex;gap:8px;align-items:flex-end;padding:10px 12px;border-top:1px solid #E5E7EB}' +
    '.compose textarea{flex:1;resize:none;border:1px solid #6B7280;border-radius:10px;padding:8px 10px;max-height:120px;min-height:42px;line-height:1.35}' +
    '.send{width:42px;height:42px;border-radius:10px;border:0;background:var(--accent);color:var(--on-accent);display:flex;align-items:center;justify-content:center;padding:0;flex:none}' +
    '.send:disabled,.primary:disabled{opacity:.55;cursor:default}' +
    '.data h3{margin:0 0 6px;font-size:16px}' +
    '.data p{margin:0 0 10px}' +
    '.row{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:10px}' +
    '.requests{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:8px}' +
    '.requests li{border:1px solid #D1D5DB;border-radius:10px;padding:8px 10px}' +
    '.note{color:#1F2937;font-size:14px}' +
    '.powered{font-size:11px;color:#4B5563;text-align:center;padding:0 0 6px}' +
    '@media (max-width:480px){.panel{inset:0;width:100%;height:100%;border-radius:0;bottom:0;right:0}.open .launcher{display:none}}' +
    '@media (prefers-reduced-motion:no-preference){.panel{animation:rise .16s ease-out}}' +
    '@keyframes rise{from{transform:translateY(8px);opacity:0}to{transform:none;opacity:1}}';

  function luminance(hex) {
    var rgb = [1, 3, 5].map(function (i) {
      var c = parseInt(hex.substr(i, 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
  }
  function contrast(a, b) {
    var x = luminance(a);
    var y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  function applyAppearance(appearance) {
    var color = /^#[0-9a-fA-F]{6}$/.test(appearance.color || '') ? appearance.color : '#4F46E5';
    var white = contrast(color, '#FFFFFF') >= 4.5;
    host.style.setProperty('--accent', color);
    host.style.setProperty('--on-accent', white ? '#FFFFFF' : '#111827');
    host.style.setProperty('--accent-text', white ? color : '#111827');
    wrap.className = 'w' + (appearance.position === 'left' ? ' left' : '') + (S.open ? ' open' : '');
  }

  var host = document.createElement('yoosr-widget');
  // Inline declarations win over the host page's stylesheets, even !important ones.
  ['all:initial', 'position:fixed', 'z-index:2147483000', 'display:block', 'width:0', 'height:0']
    .forEach(function (rule) {
      var i = rule.indexOf(':');
      host.style.setProperty(rule.slice(0, i), rule.slice(i + 1), 'important');
    });
  host.style.setProperty('bottom', '0');
  host.style.setProperty('right', '0');
  var root = host.attachShadow({ mode: 'open' });
  if (root.adoptedStyleSheets !== undefined && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(h('style', { text: CSS }));
  }
  var wrap = h('div', { class: 'w' });
  root.appendChild(wrap);

  var dom = {};
  dom.badge = h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
  dom.launcher = h(
    'button',
    {
      class: 'launcher',
      type: 'button',
      'aria-label': 'Open chat',
      'aria-expanded': 'false',
      'aria-controls': 'yoosr-panel',
      onclick: function () {
        toggle();
      }
    },
    icon(CHAT_ICON, 28),
    dom.badge
  );
  dom.title = h('h2', { id: 'yoosr-title', text: 'Chat with us' });
  dom.subtitle = h('p', { text: '' });
  dom.dataBtn = h(
    'button',
    { class: 'tool', type: 'button', text: 'Your data', onclick: function () { showView('data'); } }
  );
  dom.human = h('button', { class: 'tool', type: 'button', text: 'Talk to a person', onclick: askHuman });
  dom.status = h('div', { class: 'status', role: 'status', hidden: true });
  dom.log = h('ol', {
    class: 'log',
    role: 'log',
    'aria-live': 'polite',
    'aria-relevant': 'additions',
    'aria-label': 'Conversation'
  });
  dom.greeting = h('p', { text: '' });
  dom.start = h('button', { class: 'primary', type: 'button', text: 'Start a chat', onclick: startChat });
  dom.welcome = h('div', { class: 'welcome' }, dom.greeting, dom.start);
  dom.replies = h('div', { class: 'replies', role: 'group', 'aria-label': 'Quick replies', hidden: true });

  // CSAT
  dom.stars = h('div', { class: 'stars' });
  var LABELS = ['Very poor', 'Poor', 'Okay', 'Good', 'Excellent'];
  for (var n = 1; n <= 5; n++) {
    var radio = h('input', { type: 'radio', name: 'yoosr-rating', id: 'yoosr-rate-' + n, value: String(n) });
    dom.stars.appendChild(radio);
    dom.stars.appendChild(
      h('label', { for: 'yoosr-rate-' + n, title: LABELS[n - 1] }, h('span', { 'aria-hidden': 'true', text: String(n) }), h('span', { class: 'sr', text: n + ' – ' + LABELS[n - 1] }))
    );
  }
  dom.comment = h('textarea', { class: 'comment', 'aria-label': 'Comment (optional)', maxlength: '1000', placeholder: 'Anything to add? (optional)' });
  dom.csatSend = h('button', { class: 'primary', type: 'submit', text: 'Send rating' });
  dom.csat = h(
    'form',
    {
      class: 'card',
      hidden: true,
      onsubmit: function (e) {
        e.preventDefault();
        var picked = dom.stars.querySelector('input:checked');
        if (!picked) {
          setAlert('Please choose a rating from 1 to 5.');
          dom.stars.querySelector('input').focus();
          return;
        }
        setAlert('');
        rate(parseInt(picked.value, 10), dom.comment.value.trim());
      }
    },
    h('fieldset', null, h('legend', { text: 'How would you rate this conversation?' }), dom.stars),
    dom.comment,
    dom.csatSend
  );
  dom.thanks = h('div', { class: 'card', hidden: true, tabindex: '-1' }, h('p', { text: 'Thank you for your feedback!' }), h('button', { class: 'secondary', type: 'button', text: 'Start a new conversation', onclick: newConversation }));
  dom.resolved = h('p', { class: 'msg system', hidden: true, text: 'This conversation was marked as resolved.' });

  dom.body = h('div', { class: 'body' }, dom.welcome, dom.log, dom.replies, dom.resolved, dom.csat, dom.thanks);
  dom.alert = h('div', { class: 'alert', role: 'alert' });
  dom.input = h('textarea', {
    rows: '1',
    'aria-label': 'Message',
    placeholder: 'Write a message…',
    maxlength: '4000',
    onkeydown: function (e) {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    },
    oninput: function () {
      dom.input.style.setProperty('height', 'auto');
      dom.input.style.setProperty('height', Math.min(120, dom.input.scrollHeight + 2) + 'px');
    }
  });
  dom.send = h('button', { class: 'send', type: 'submit', 'aria-label': 'Send message' }, icon(SEND_ICON, 22));
  dom.compose = h(
    'form',
    {
      class: 'compose',
      onsubmit: function (e) {
        e.preventDefault();
        submit();
      }
    },
    dom.input,
    dom.send
  );

  // Your data
  dom.dataHeading = h('h3', { tabindex: '-1', text: 'Your data' });
  dom.dataNote = h('p', { class: 'note', role: 'status' });
  dom.requests = h('ul', { class: 'requests', 'aria-label': 'Your requests' });
  dom.confirm = h(
    'div',
    { class: 'card', hidden: true, role: 'group', 'aria-label': 'Confirm deletion' },
    h('p', { text: 'Delete this chat session and everything you told us in it? This cannot be undone.' }),
    h(
      'div',
      { class: 'row' },
      h('button', { class: 'danger', type: 'button', text: 'Yes, delete my data', onclick: function () { dom.confirm.hidden = true; requestPrivacy('delete'); dom.dataHeading.focus(); } }),
      h('button', { class: 'secondary', type: 'button', text: 'Cancel', onclick: function () { dom.confirm.hidden = true; dom.deleteBtn.focus(); } })
    )
  );
  dom.deleteBtn = h('button', { class: 'secondary', type: 'button', text: 'Delete my data', onclick: function () { dom.confirm.hidden = false; dom.confirm.querySelector('button').focus(); } });
  dom.data = h(
    'div',
    { class: 'body data', hidden: true },
    dom.dataHeading,
    h('p', { text: 'This chat keeps your messages and the details you shared, linked to this browser. You can get a copy or have it deleted.' }),
    h(
      'div',
      { class: 'row' },
      h('button', { class: 'primary', type: 'button', text: 'Get a copy of my data', onclick: function () { requestPrivacy('export'); } }),
      dom.deleteBtn
    ),
    dom.confirm,
    dom.dataNote,
    dom.requests,
    h('div', { class: 'row' }, h('button', { class: 'secondary', type: 'button', text: 'Back to chat', onclick: function () { showView('chat'); } }))
  );

  dom.panel = h(
    'div',
    { class: 'panel', id: 'yoosr-panel', role: 'dialog', 'aria-labelledby': 'yoosr-title', hidden: true,
      onkeydown: function (e) {
        if (e.key === 'Escape') {
          e.stopPropagation();
          close();
        }
      } },
    h(
      'div',
      { class: 'head' },
      h('div', { class: 'titles' }, dom.title, dom.subtitle),
      h('button', { class: 'iconbtn', type: 'button', 'aria-label': 'Close chat', onclick: function () { close(); } }, icon(CLOSE_ICON, 22))
    ),
    h('div', { class: 'tools' }, dom.human, dom.dataBtn),
    dom.status,
    dom.body,
    dom.data,
    dom.alert,
    dom.compose,
    h('div', { class: 'powered', text: 'Powered by Yoosr' })
  );
  wrap.appendChild(dom.panel);
  wrap.appendChild(dom.launcher);

  function submit() {
    var text = dom.input.value;
    if (!text.trim()) return;
    dom.input.value = '';
    dom.input.style.setProperty('height', 'auto');
    send(text);
  }

  function setAlert(text) {
    dom.alert.textContent = text || '';
  }
  function setDataNote(text) {
    dom.dataNote.textContent = text || '';
  }

  // ------------------------------------------------------------------ rendering

  function who(m) {
    if (m.sender_type === 'visitor') return 'You';
    if (m.sender_type === 'agent') return 'Support team';
    if (m.sender_type === 'bot') return 'Assistant';
    return 'Notice';
  }

  function timeOf(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return null;
    return h('time', { class: 'meta', datetime: iso, text: d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) });
  }

  function renderMessage(m) {
    var li = h(
      'li',
      { class: 'msg ' + m.sender_type, 'data-id': m.id, 'data-sender': m.sender_type },
      m.sender_type === 'visitor' || m.sender_type === 'system'
        ? h('span', { class: 'sr', text: who(m) + ':' })
        : h('span', { class: 'who', text: who(m) }),
      h('span', { class: 'text', text: m.text }),
      m.sender_type === 'system' ? null : timeOf(m.created_at)
    );
    // Server order (ids sort by time); unsent messages stay last.
    var after = null;
    var nodes = dom.log.children;
    for (var i = 0; i < nodes.length; i++) {
      var id = nodes[i].getAttribute('data-id');
      if (!id || id > m.id) {
        after = nodes[i];
        break;
      }
    }
    dom.log.insertBefore(li, after);
    dom.welcome.hidden = true;
    scrollDown();
  }

  function pendingNode(item) {
    return dom.log.querySelector('[data-cmid="' + item.cmid + '"]');
  }

  function renderPending(item) {
    if (item.kind !== 'message') return;
    var li = pendingNode(item);
    if (!li) {
      li = h('li', { class: 'msg visitor pending', 'data-cmid': item.cmid }, h('span', { class: 'sr', text: 'You:' }), h('span', { class: 'text', text: item.text }), h('span', { class: 'meta' }));
      dom.log.appendChild(li);
      dom.welcome.hidden = true;
      scrollDown();
    }
    var meta = li.querySelector('.meta');
    li.className = 'msg visitor ' + (item.state === 'failed' ? 'failed' : 'pending');
    var old = li.querySelector('.retry');
    if (old) old.remove();
    if (item.state === 'failed') {
      meta.textContent = item.error || 'Not sent.';
      li.appendChild(h('button', { class: 'retry', type: 'button', text: 'Retry', onclick: function () { retryItem(item); } }));
    } else {
      meta.textContent = item.state === 'retrying' ? 'Not sent yet, retrying…' : 'Sending…';
    }
  }

  function removePending(item) {
    var li = pendingNode(item);
    if (li) li.remove();
  }

  function dropEchoOf(cmid) {
    var li = dom.log.querySelector('[data-cmid="' + cmid + '"]');
    if (li && !S.outbox.some(function (i) { return i.cmid === cmid && i.state !== 'failed'; })) li.remove();
  }

  function scrollDown() {
    dom.body.scrollTop = dom.body.scrollHeight;
  }

  // Quick replies: those of the newest message, if it is a bot message nobody answered yet.
  function renderButtons() {
    var last = S.seen.length ? S.messages[S.seen[S.seen.length - 1]] : null;
    dom.replies.textContent = '';
    var waiting = S.outbox.some(function (i) {
      return i.kind === 'message' && i.state !== 'failed';
    });
    var buttons = !waiting && last && last.sender_type === 'bot' && last.buttons;
    dom.replies.hidden = !buttons || !buttons.length;
    if (dom.replies.hidden) return;
    buttons.forEach(function (b) {
      dom.replies.appendChild(
        h('button', {
          class: 'reply',
          type: 'button',
          text: b.label,
          onclick: function () {
            dom.replies.hidden = true;
            send(b.label, b.value);
            dom.input.focus();
          }
        })
      );
    });
    scrollDown();
  }

  function renderLauncher() {
    var label = S.open ? 'Minimize chat' : 'Open chat';
    if (S.unread && !S.open) label += ', ' + S.unread + ' new message' + (S.unread > 1 ? 's' : '');
    dom.launcher.setAttribute('aria-label', label);
    dom.launcher.setAttribute('aria-expanded', String(S.open));
    dom.badge.hidden = !S.unread || S.open;
    dom.badge.textContent = String(S.unread);
  }

  function formatWhen(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return '';
    return d.toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' });
  }

  function statusText() {
    var now = Date.now();
    if (S.blocked) return ['warn', 'Chat is not available on this site right now.'];
    if (S.offline) return ['warn', 'You are offline. Your messages will be sent when you are back online.'];
    if (S.rateUntil > now) {
      var s = Math.ceil((S.rateUntil - now) / 1000);
      return ['warn', 'You are sending messages too quickly. Trying again in ' + s + ' s.'];
    }
    if (S.outbox.some(function (i) { return i.state === 'retrying'; }) || S.pollErrors > 1) {
      return ['warn', 'We are having trouble connecting. Retrying…'];
    }
    if (S.ended === 'deleted') return ['info', 'Your data was deleted. You can start a new conversation at any time.'];
    if (S.ended === 'expired') return ['info', 'Your previous session ended. Start a new conversation below.'];
    var c = S.conversation;
    if (c && c.status === 'open' && c.owner === 'human') {
      if (c.inside_business_hours === false) {
        var when = c.next_open_at ? ' We are back ' + formatWhen(c.next_open_at) + '.' : '';
        return ['info', 'Our team is away right now.' + when + ' Leave a message and we will reply here.'];
      }
      if (!c.assignee_id && c.queue_position) {
        return ['info', 'You are number ' + c.queue_position + ' in line. Someone from our team will be with you soon.'];
      }
      if (!c.assignee_id) return ['info', 'Waiting for someone from our team…'];
    }
    var cfg = S.config;
    if (!c && cfg && cfg.business_hours && !cfg.business_hours.open_now) {
      var next = cfg.business_hours.next_open_at ? ' We open ' + formatWhen(cfg.business_hours.next_open_at) + '.' : '';
      return ['info', 'Our team is away right now.' + next + ' Our assistant can still help, and we will reply to anything else when we are back.'];
    }
    return null;
  }

  var lastStatus = '';
  function renderStatus() {
    var st = statusText();
    var text = st ? st[1] : '';
    if (text === lastStatus) return;
    lastStatus = text;
    dom.status.hidden = !st;
    dom.status.className = 'status' + (st && st[0] === 'info' ? ' info' : '');
    dom.status.textContent = text;
  }

  function render() {
    var cfg = S.config || {};
    var appearance = cfg.appearance || {};
    dom.title.textContent = appearance.title || cfg.workspace_name || 'Chat with us';
    dom.subtitle.textContent = cfg.workspace_name && appearance.title ? cfg.workspace_name : '';
    dom.greeting.textContent = cfg.greeting || 'Hi! How can we help you today?';
    var c = S.conversation;
    var started = !!S.conversationId || S.outbox.some(isStart) || S.seen.length > 0;
    dom.welcome.hidden = started;
    dom.start.disabled = S.outbox.some(isStart);
    dom.start.textContent = dom.start.disabled ? 'Starting…' : 'Start a chat';
    dom.human.hidden = !!(c && c.owner === 'human' && c.status === 'open');
    var resolved = !!(c && c.status === 'resolved');
    var rated = resolved && c.csat_rating !== null && c.csat_rating !== undefined;
    var changed = dom.resolved.hidden === resolved || dom.thanks.hidden === rated;
    dom.resolved.hidden = !resolved;
    dom.csat.hidden = !resolved || rated;
    dom.thanks.hidden = !rated;
    if (resolved) dom.replies.hidden = true;
    if (changed) scrollDown();
    dom.panel.hidden = !S.open;
    wrap.classList.toggle('open', S.open);
    renderLauncher();
    renderStatus();
  }

  function renderPrivacy() {
    dom.requests.textContent = '';
    S.privacy.forEach(function (r) {
      var what = r.type === 'export' ? 'Copy of your data' : r.type === 'delete' ? 'Deletion of your data' : r.type;
      var li = h('li', { 'data-request-id': r.id, 'data-status': r.status }, h('strong', { text: what }), h('div', { text: 'Status: ' + (STATUS_TEXT[r.status] || r.status) }));
      if (r.due_at && TERMINAL.indexOf(r.status) < 0) {
        li.appendChild(h('div', { class: 'meta', text: 'We answer by ' + new Date(r.due_at).toLocaleDateString() }));
      }
      if (r.type === 'export' && r.status === 'completed') {
        li.appendChild(h('button', { class: 'primary', type: 'button', text: 'Download your data', onclick: function () { download(r); } }));
      }
      dom.requests.appendChild(li);
    });
  }

  function showView(view) {
    S.view = view;
    var data = view === 'data';
    dom.data.hidden = !data;
    dom.body.hidden = data;
    dom.compose.hidden = data;
    dom.human.parentNode.hidden = data;
    if (data) {
      renderPrivacy();
      watchPrivacy();
      dom.dataHeading.focus();
    } else {
      dom.dataBtn.focus();
    }
  }

  // ------------------------------------------------------------------ open / close

  function open() {
    if (S.open) return;
    S.open = true;
    S.unread = 0;
    persist();
    render();
    scrollDown();
    if (S.view === 'data') dom.dataHeading.focus();
    else dom.input.focus();
    schedulePoll(0);
  }
  function close() {
    if (!S.open) return;
    S.open = false;
    persist();
    render();
    dom.launcher.focus();
  }
  function toggle() {
    if (S.open) close();
    else open();
  }

  // ------------------------------------------------------------------ start

  function boot() {
    var saved = store();
    var identity = USER_HASH || USER_ID ? USER_HASH || 'unverified' : null;
    if (saved.token && Date.parse(saved.expires_at) > Date.now() && (saved.uh || null) === identity) {
      S.session = { token: saved.token, visitor_id: saved.visitor_id, expires_at: saved.expires_at };
      S.conversationId = saved.conversation_id || null;
      S.ccid = saved.ccid || null;
    }
    S.open = !!saved.open;
    document.body.appendChild(host);
    render();

    request('GET', '/v1/widget/config', undefined, { auth: false }).then(
      function (r) {
        S.config = r.data;
        applyAppearance(r.data.appearance || {});
        render();
      },
      function (err) {
        applyAppearance({});
        failed(err);
        render();
      }
    );
    applyAppearance({});
    if (S.session && S.conversationId) {
      schedulePoll(0);
    } else if (S.session && !S.conversationId) {
      // A session without a known conversation: pick up the newest one, if any.
      request('GET', '/v1/widget/conversations?limit=1').then(
        function (r) {
          if (r.data.items.length && !S.conversationId) adoptConversation(r.data.items[0]);
        },
        failed
      );
    }
    loadPrivacy(saved.privacy);
    if (S.open) setTimeout(function () { dom.input.focus(); }, 0);

    window.addEventListener('online', function () {
      S.offline = false;
      renderStatus();
      if (S.wake) S.wake();
      schedulePoll(0);
    });
    window.addEventListener('offline', function () {
      S.offline = true;
      renderStatus();
    });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) {
        S.hiddenTicks = 0;
        schedulePoll(0);
      }
    });
  }

  window.Yoosr = { open: open, close: close, toggle: toggle };
  if (document.body) boot();
  else document.addEventListener('DOMContentLoaded', boot);
})();
