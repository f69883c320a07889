// The local demo's agent view: the dashboard API with the stack's seeded agent token.
// Lists the inbox, opens a conversation, replies and resolves. For local use only.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('yoosr-agent-config').textContent);
  var API = config.api_url || '';
  var selected = null;
  var lastSignature = '';
  var $ = function (id) {
    return document.getElementById(id);
  };

  function api(method, path, body) {
    var headers = { Authorization: 'Bearer ' + config.token, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(API + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store'
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = text ? JSON.parse(text) : null;
        if (!res.ok) {
          var message = (data && data.error && data.error.message) || res.status + ' ' + res.statusText;
          throw new Error(message);
        }
        return data;
      });
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function when(iso) {
    var d = new Date(iso);
    return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function query() {
    var filter = $('filter').value;
    if (filter === 'human') return '?status=open&owner=human';
    if (filter === 'resolved') return '?status=resolved';
    return '?status=open';
  }

  function loadInbox() {
    return api('GET', '/v1/conversations' + query() + '&limit=50').then(
      function (page) {
        var list = $('inbox');
        list.textContent = '';
        $('inbox-status').textContent = page.items.length
          ? page.items.length + ' conversation' + (page.items.length > 1 ? 's' : '')
          : 'Nothing here yet. Start a chat on the demo shop page.';
        page.items.forEach(function (c) {
          var tags = [c.owner === 'human' ? 'with the team' : 'with the bot', c.status];
          if (c.queue_position) tags.push('number ' + c.queue_position + ' in line');
          if (c.assignee_id) tags.push(c.assignee_id === config.user_id ? 'assigned to you' : 'assigned');
          tags.push(when(c.last_activity_at));
          var button = el('button', { type: 'button', 'data-conversation-id': c.id });
          if (selected === c.id) button.setAttribute('aria-current', 'true');
          button.appendChild(el('span', { class: 'preview' }, c.last_message_preview || '(no messages yet)'));
          button.appendChild(el('span', { class: 'tags' }, tags.join(' · ')));
          button.addEventListener('click', function () {
            open(c.id);
          });
          var item = el('li');
          item.appendChild(button);
          list.appendChild(item);
        });
      },
      function (error) {
        $('inbox-status').textContent = 'Could not load the inbox: ' + error.message;
      }
    );
  }

  function loadThread() {
    if (!selected) return Promise.resolve();
    var id = selected;
    return Promise.all([
      api('GET', '/v1/conversations/' + encodeURIComponent(id)),
      api('GET', '/v1/conversations/' + encodeURIComponent(id) + '/messages?limit=200')
    ]).then(
      function (results) {
        if (id !== selected) return;
        var c = results[0];
        var messages = results[1].items;
        $('thread-title').textContent = 'Conversation ' + c.id.slice(-6);
        var meta = [c.status, c.owner === 'human' ? 'with the team' : 'with the bot'];
        if (c.visitor && c.visitor.email) meta.push(c.visitor.email);
        if (c.queue_position) meta.push('number ' + c.queue_position + ' in line');
        $('thread-meta').textContent = meta.join(' · ');
        $('resolve').hidden = c.status !== 'open';
        $('reply').hidden = false;
        var signature = messages.map(function (m) {
          return m.id;
        }).join(',');
        if (signature === lastSignature) return;
        lastSignature = signature;
        var log = $('messages');
        log.textContent = '';
        messages.forEach(function (m) {
          var item = el('li', { class: m.sender_type, 'data-sender': m.sender_type });
          var who = { visitor: 'Visitor', bot: 'Bot', agent: m.agent_id === config.user_id ? 'You' : 'Agent', system: 'System' }[m.sender_type];
          if (m.private) who += ' (private note)';
          item.appendChild(el('span', { class: 'who' }, who + ' · ' + when(m.created_at)));
          item.appendChild(document.createTextNode(m.text));
          log.appendChild(item);
        });
        log.scrollTop = log.scrollHeight;
      },
      function (error) {
        $('thread-error').textContent = 'Could not load the conversation: ' + error.message;
      }
    );
  }

  function open(id) {
    selected = id;
    lastSignature = '';
    $('messages').textContent = '';
    $('thread-error').textContent = '';
    Array.prototype.forEach.call(document.querySelectorAll('#inbox button'), function (b) {
      b.setAttribute('aria-current', String(b.getAttribute('data-conversation-id') === id));
    });
    loadThread().then(function () {
      $('reply-text').focus();
    });
  }

  function newId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return 'a-' + Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join('');
  }

  function sendReply(event) {
    event.preventDefault();
    var text = $('reply-text').value.trim();
    if (!text || !selected) return;
    var body = { text: text, client_message_id: newId() };
    var button = $('reply').querySelector('button');
    button.disabled = true;
    $('thread-error').textContent = '';
    api('POST', '/v1/conversations/' + encodeURIComponent(selected) + '/messages', body)
      .then(
        function () {
          $('reply-text').value = '';
          return Promise.all([loadThread(), loadInbox()]);
        },
        function (error) {
          $('thread-error').textContent = 'Reply not sent: ' + error.message;
        }
      )
      .then(function () {
        button.disabled = false;
        $('reply-text').focus();
      });
  }

  function resolve() {
    if (!selected) return;
    api('POST', '/v1/conversations/' + encodeURIComponent(selected) + '/resolve', {}).then(
      function () {
        return Promise.all([loadThread(), loadInbox()]);
      },
      function (error) {
        $('thread-error').textContent = 'Could not resolve: ' + error.message;
      }
    );
  }

  $('reply').addEventListener('submit', sendReply);
  $('reply-text').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      $('reply').requestSubmit();
    }
  });
  $('resolve').addEventListener('click', resolve);
  $('filter').addEventListener('change', loadInbox);

  function tick() {
    Promise.all([loadInbox(), loadThread()]).then(function () {
      setTimeout(tick, document.hidden ? 10000 : 2500);
    });
  }
  tick();
})();
