// Gatehouse admin console: plain JavaScript, no dependencies, no build step.
//
// Every value that comes from the server is written with textContent (or an
// input's value), never as HTML: the page's Content-Security-Policy makes
// the browser refuse strings given to HTML sinks such as innerHTML (Trusted
// Types), and allows no inline script.
(function () {
  'use strict';

  // The admin key lives in this tab's sessionStorage only.
  const KEY_STORAGE = 'gatehouse.adminKey';
  const PAGE_SIZE = 20;
  const AUTO_REFRESH_MS = 5000;
  // The console is served at <admin>/ui/: the admin API is at <admin>/api/.
  const API_BASE = new URL('../', window.location.href);
  const VIEWS = ['view-login', 'view-consumers', 'view-consumer', 'view-groups', 'view-group'];

  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  // ---- the admin key

  function storedKey() {
    try {
      return window.sessionStorage.getItem(KEY_STORAGE) || '';
    } catch (e) {
      return '';
    }
  }
  function storeKey(k) { window.sessionStorage.setItem(KEY_STORAGE, k); }
  function forgetKey() {
    try {
      window.sessionStorage.removeItem(KEY_STORAGE);
    } catch (e) { /* storage unavailable: nothing kept */ }
  }

  // ---- calls to the admin API

  class APIError extends Error {
    constructor(status, body) {
      super(describe(status, body));
      this.status = status;
      this.body = body;
    }
  }

  // describe turns an admin error body into one sentence, naming every
  // invalid field.
  function describe(status, body) {
    let msg = body && typeof body.message === 'string' ? body.message : 'the request failed';
    if (body && body.fields && typeof body.fields === 'object') {
      const parts = Object.keys(body.fields).sort().map((f) => f + ': ' + String(body.fields[f]));
      if (parts.length) msg += ' (' + parts.join('; ') + ')';
    }
    return status ? msg + ' [HTTP ' + status + ']' : msg;
  }

  // api calls the admin API with the stored key (or the key given, to try
  // one) and returns the decoded JSON body. A 401 with the stored key means
  // it no longer works: it is forgotten and the key is asked again.
  async function api(method, path, body, tryKey) {
    const headers = { 'X-API-KEY': tryKey || storedKey(), 'Accept': 'application/json' };
    const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await window.fetch(new URL(path, API_BASE), init);
    } catch (e) {
      throw new APIError(0, { message: 'The admin API cannot be reached: is the server running?' });
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (res.status === 401 && !tryKey) {
      forgetKey();
      showLogin('The server refused the admin key (401 unauthorized): it may have changed. Enter it again.');
    }
    if (!res.ok) throw new APIError(res.status, data);
    return data;
  }

  // ---- small DOM helpers (text only)

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function link(href, text) {
    const a = el('a', text);
    a.href = href;
    return a;
  }
  function cell(row, content, cls) {
    const td = el('td', null, cls);
    if (content instanceof Node) td.append(content);
    else if (content !== undefined && content !== null) td.textContent = String(content);
    row.append(td);
    return td;
  }
  function emptyRow(tbody, cols, text) {
    const tr = el('tr');
    const td = cell(tr, text, 'empty');
    td.colSpan = cols;
    tbody.append(tr);
  }
  function time(s) {
    if (!s || String(s).startsWith('0001-')) return '—';
    const d = new Date(s);
    return isNaN(d) ? String(s) : d.toISOString().slice(0, 19).replace('T', ' ');
  }
  function windowText(secs) {
    for (const [n, u] of [[86400, 'd'], [3600, 'h'], [60, 'm']]) {
      if (secs >= n && secs % n === 0) return secs / n + u;
    }
    return secs + 's';
  }
  function chips(obj) {
    const span = el('span');
    for (const k of Object.keys(obj || {}).sort()) span.append(el('span', k + ':' + obj[k], 'chip'));
    return span;
  }

  // ---- status line

  let flash = null; // a message for the next view
  function showStatus(msg, isError) {
    const s = $('status');
    s.textContent = msg;
    s.classList.toggle('error', !!isError);
    s.hidden = false;
  }
  function clearStatus() {
    const s = $('status');
    s.hidden = true;
    s.textContent = '';
  }
  // fail reports err, unless it is the 401 that already asked for the key.
  function fail(err) {
    if (err instanceof APIError && err.status === 401) return;
    showStatus(err && err.message ? err.message : String(err), true);
  }

  // ---- views and routing (#/consumers, #/consumers/<name>, #/groups, #/groups/<gw>/<id>?user=&ip=)

  let autoTimer = null;
  function stopAuto() {
    if (autoTimer) window.clearInterval(autoTimer);
    autoTimer = null;
    $('usage-auto').checked = false;
  }

  function show(view) {
    for (const v of VIEWS) $(v).hidden = v !== view;
    $('nav').hidden = view === 'view-login';
    setCurrent('nav-consumers', view === 'view-consumers' || view === 'view-consumer');
    setCurrent('nav-groups', view === 'view-groups' || view === 'view-group');
    if (view !== 'view-consumer') hideNewKey();
  }
  function setCurrent(id, on) {
    if (on) $(id).setAttribute('aria-current', 'page');
    else $(id).removeAttribute('aria-current');
  }

  // go shows hash, with msg in the status line.
  function go(hash, msg) {
    flash = msg || null;
    if (window.location.hash === hash) route();
    else window.location.hash = hash;
  }

  function route() {
    stopAuto();
    clearStatus();
    if (flash) {
      showStatus(flash, false);
      flash = null;
    }
    if (!storedKey()) {
      showLogin();
      return;
    }
    const raw = window.location.hash.replace(/^#/, '') || '/consumers';
    const q = raw.indexOf('?');
    const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
    let parts;
    try {
      parts = (q >= 0 ? raw.slice(0, q) : raw).split('/').filter(Boolean).map(decodeURIComponent);
    } catch (e) {
      parts = [];
    }
    // A part "." or ".." would step out of the path it is put in (the
    // browser resolves dot segments, encoded or not): no id is either.
    if (parts.some((p) => p === '.' || p === '..')) parts = [];
    let done;
    if (parts[0] === 'consumers' && parts.length === 1) done = showConsumers();
    else if (parts[0] === 'consumers' && parts.length === 2) done = showConsumer(parts[1]);
    else if (parts[0] === 'groups' && parts.length === 1) done = showGroups();
    else if (parts[0] === 'groups' && parts.length === 3) done = showGroup(parts[1], parts[2], params);
    else {
      window.location.hash = '#/consumers';
      return;
    }
    done.catch(fail);
  }

  // ---- login

  function showLogin(msg) {
    stopAuto();
    show('view-login');
    const e = $('login-error');
    e.textContent = msg || '';
    e.hidden = !msg;
    $('login-key').focus();
  }

  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('login-key');
    const key = input.value.trim();
    const e = $('login-error');
    e.hidden = true;
    if (!key) return;
    $('login-submit').disabled = true;
    try {
      await api('GET', 'api/v1/gateways?limit=1', undefined, key);
      storeKey(key);
      input.value = '';
      route();
    } catch (err) {
      e.textContent = err.status === 401
        ? 'Wrong admin key: the server refused it (401 unauthorized). Check the key and try again.'
        : err.message;
      e.hidden = false;
    } finally {
      $('login-submit').disabled = false;
    }
  });

  $('signout').addEventListener('click', () => {
    forgetKey();
    hideNewKey();
    window.history.replaceState(null, '', '#/consumers');
    showLogin('The admin key is forgotten in this tab.');
  });

  // ---- gateways (the groups view and the consumer form's group list)

  let gateway = ''; // the gateway whose groups are shown

  async function gateways() {
    const page = await api('GET', 'api/v1/gateways?limit=1000');
    return page.items.map((g) => g.id);
  }
  async function pickGateway() {
    const ids = await gateways();
    if (!ids.includes(gateway)) gateway = ids.includes('default') ? 'default' : (ids[0] || '');
    return ids;
  }

  // ---- consumers

  const cs = { search: '', cursors: [''], page: 0, next: '' };

  async function showConsumers() {
    show('view-consumers');
    $('search').value = cs.search;
    await Promise.all([loadConsumers(), loadGroupChoices()]);
  }

  function cutLabel(l) {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1)];
  }

  async function loadConsumers() {
    const rows = $('consumer-rows');
    const tokens = cs.search.split(/\s+/).filter(Boolean);
    const labels = tokens.filter((t) => t.includes(':'));
    const names = tokens.filter((t) => !t.includes(':'));
    let items = [];
    let summary;
    let next = '';
    if (names.length > 1) {
      rows.replaceChildren();
      emptyRow(rows, 5, 'Search one username at a time (it must match exactly), or labels as key:value.');
      $('consumers-summary').textContent = '';
      setPager('consumers', 0, '', 0);
      return;
    }
    if (names.length === 1) {
      // A username: the one consumer of that exact name, if it has the labels.
      try {
        const c = await api('GET', 'api/consumers/' + enc(names[0]));
        if (labels.every((l) => { const [k, v] = cutLabel(l); return c.labels && c.labels[k] === v; })) items = [c];
      } catch (err) {
        if (!(err instanceof APIError && (err.status === 404 || err.status === 400))) throw err;
      }
      summary = items.length ? 'The consumer named “' + names[0] + '”.' : 'No consumer is named “' + names[0] + '”' + (labels.length ? ' with those labels.' : '.');
    } else {
      const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
      for (const l of labels) q.append('label', l);
      if (cs.cursors[cs.page]) q.set('cursor', cs.cursors[cs.page]);
      const page = await api('GET', 'api/consumers?' + q.toString());
      items = page.items;
      next = page.next;
      summary = page.total + (page.total === 1 ? ' consumer' : ' consumers') + (labels.length ? ' with label ' + labels.join(' and ') : '') + '.';
      setPager('consumers', cs.page, next, page.total);
    }
    cs.next = next;
    if (names.length === 1) setPager('consumers', 0, '', items.length);
    $('consumers-summary').textContent = summary;
    rows.replaceChildren();
    if (!items.length) emptyRow(rows, 5, 'No consumers.');
    for (const c of items) {
      const tr = el('tr');
      tr.dataset.username = c.username;
      cell(tr, link('#/consumers/' + enc(c.username), c.username));
      cell(tr, c.group_id || '—');
      cell(tr, chips(c.labels));
      cell(tr, c.desc || '');
      cell(tr, time(c.updated_at));
      rows.append(tr);
    }
  }

  function setPager(prefix, page, next, total) {
    $(prefix + '-prev').disabled = page === 0;
    $(prefix + '-next').disabled = !next;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    $(prefix + '-page').textContent = 'page ' + (page + 1) + ' of ' + pages;
  }

  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    cs.search = $('search').value.trim();
    cs.cursors = [''];
    cs.page = 0;
    clearStatus();
    loadConsumers().catch(fail);
  });
  $('search-clear').addEventListener('click', () => {
    $('search').value = '';
    cs.search = '';
    cs.cursors = [''];
    cs.page = 0;
    clearStatus();
    loadConsumers().catch(fail);
  });
  $('consumers-next').addEventListener('click', () => {
    if (!cs.next) return;
    cs.cursors[cs.page + 1] = cs.next;
    cs.page++;
    loadConsumers().catch(fail);
  });
  $('consumers-prev').addEventListener('click', () => {
    if (cs.page === 0) return;
    cs.page--;
    loadConsumers().catch(fail);
  });

  // loadGroupChoices fills the new consumer's group list with the groups of
  // the chosen gateway.
  async function loadGroupChoices() {
    await pickGateway();
    const sel = $('new-group');
    const keep = sel.value;
    sel.replaceChildren(new Option('(none)', ''));
    if (!gateway) return;
    const page = await api('GET', 'api/v1/gateways/' + enc(gateway) + '/consumer-groups?limit=1000');
    for (const g of page.items) sel.append(new Option(g.name + ' (' + g.id + ')', g.id));
    sel.value = keep;
    if (sel.value !== keep) sel.value = '';
  }

  // A key the server generated, to show once on its consumer's page.
  let pendingKey = null;

  $('create-consumer').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearStatus();
    const username = $('new-username').value.trim();
    const body = { username };
    const desc = $('new-desc').value.trim();
    if (desc) body.desc = desc;
    const group = $('new-group').value;
    if (group) body.group_id = group;
    const labels = {};
    for (const line of $('new-labels').value.split('\n').map((l) => l.trim()).filter(Boolean)) {
      if (!line.includes(':') || line.startsWith(':')) {
        showStatus('Each label is key:value on a line of its own: “' + line + '” is not.', true);
        return;
      }
      const [k, v] = cutLabel(line);
      labels[k.trim()] = v.trim();
    }
    if (Object.keys(labels).length) body.labels = labels;
    const btn = $('create-consumer-submit');
    btn.disabled = true;
    try {
      await api('POST', 'api/consumers', body);
      let msg = 'Consumer “' + username + '” created.';
      if ($('new-with-key').checked) {
        try {
          const cred = await createKey(username, 'default', []);
          pendingKey = { username, key: cred.plugins['key-auth'].key };
        } catch (err) {
          if (err instanceof APIError && err.status === 401) return;
          msg += ' Its key could not be created: ' + err.message;
        }
      }
      $('create-consumer').reset();
      go('#/consumers/' + enc(username), msg);
    } catch (err) {
      fail(err);
    } finally {
      btn.disabled = false;
    }
  });

  // ---- one consumer

  let shownConsumer = '';

  function createKey(username, name, entities) {
    const body = { name, plugins: { 'key-auth': {} } };
    if (entities.length) body.authorized_entities = entities;
    return api('POST', 'api/consumers/' + enc(username) + '/credentials', body);
  }

  function showNewKey(key) {
    $('new-key-value').value = key;
    $('copy-result').hidden = true;
    $('new-key').hidden = false;
    $('new-key-value').focus();
    $('new-key-value').select();
  }
  function hideNewKey() {
    $('new-key-value').value = '';
    $('new-key').hidden = true;
  }

  async function showConsumer(username) {
    show('view-consumer');
    if (shownConsumer !== username) hideNewKey();
    shownConsumer = username;
    $('consumer-title').textContent = username;
    if (pendingKey && pendingKey.username === username) showNewKey(pendingKey.key);
    pendingKey = null; // shown once: only this page's input holds it now
    $('consumer-fields').replaceChildren();
    $('credential-rows').replaceChildren();
    let c;
    try {
      c = await api('GET', 'api/consumers/' + enc(username));
    } catch (err) {
      if (err instanceof APIError && err.status === 404) {
        showStatus('No consumer is named “' + username + '”.', true);
        return;
      }
      throw err;
    }
    renderConsumer(c);
    await loadCredentials(username);
  }

  function renderConsumer(c) {
    const dl = $('consumer-fields');
    const add = (name, value) => {
      dl.append(el('dt', name));
      const dd = el('dd');
      if (value instanceof Node) dd.append(value);
      else dd.textContent = value;
      dl.append(dd);
      return dd;
    };
    add('Username', c.username);
    add('Description', c.desc || '—');
    const groupCell = add('Consumer group', c.group_id || '—');
    if (c.group_id) linkGroup(groupCell, c.group_id, c.username).catch(() => {});
    add('Labels', Object.keys(c.labels || {}).length ? chips(c.labels) : '—');
    add('Plugins', Object.keys(c.plugins || {}).sort().join(', ') || '—');
    add('Created (UTC)', time(c.created_at));
    add('Updated (UTC)', time(c.updated_at));
  }

  // linkGroup turns the group id in dd into a link to the group's limits and
  // this consumer's usage, once the group's gateway is found.
  async function linkGroup(dd, groupID, username) {
    for (const gw of await gateways()) {
      try {
        const g = await api('GET', 'api/v1/gateways/' + enc(gw) + '/consumer-groups/' + enc(groupID));
        dd.replaceChildren(link('#/groups/' + enc(gw) + '/' + enc(groupID) + '?user=' + enc(username), g.name + ' (' + groupID + ')'));
        dd.append(el('span', ' — limits and this consumer’s usage', 'muted'));
        return;
      } catch (err) {
        if (!(err instanceof APIError && err.status === 404)) throw err;
      }
    }
    dd.append(el('span', ' (no such group: it applies nothing)', 'muted'));
  }

  async function loadCredentials(username) {
    const page = await api('GET', 'api/consumers/' + enc(username) + '/credentials?limit=1000');
    const rows = $('credential-rows');
    rows.replaceChildren();
    if (!page.items.length) emptyRow(rows, 6, 'No credentials.');
    for (const cr of page.items) {
      const scheme = Object.keys(cr.plugins || {})[0] || '';
      const settings = (cr.plugins || {})[scheme] || {};
      const tr = el('tr');
      tr.dataset.credential = cr.name;
      cell(tr, cr.name);
      cell(tr, scheme);
      cell(tr, settings.key_preview || settings.username || settings.key_id || settings.key || '—', 'mono');
      cell(tr, cr.enabled ? 'yes' : 'no');
      cell(tr, (cr.authorized_entities || []).join(' ') || '—');
      cell(tr, time(cr.expires_at));
      rows.append(tr);
    }
    if (page.next) emptyRow(rows, 6, 'Only the first ' + page.items.length + ' credentials are shown.');
  }

  $('create-key').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearStatus();
    const username = shownConsumer;
    const name = $('key-name').value.trim();
    const entities = $('key-entities').value.split(/[\s,]+/).filter(Boolean);
    const btn = $('create-key-submit');
    btn.disabled = true;
    try {
      const cred = await createKey(username, name, entities);
      showNewKey(cred.plugins['key-auth'].key);
      showStatus('Key “' + name + '” created for ' + username + '.', false);
      $('key-entities').value = '';
      await loadCredentials(username);
    } catch (err) {
      fail(err);
    } finally {
      btn.disabled = false;
    }
  });

  $('copy-key').addEventListener('click', async () => {
    const input = $('new-key-value');
    let ok = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(input.value);
        ok = true;
      } catch (e) {
        ok = false;
      }
    }
    if (!ok) {
      input.focus();
      input.select();
      try {
        ok = document.execCommand('copy');
      } catch (e) {
        ok = false;
      }
    }
    const r = $('copy-result');
    r.textContent = ok ? 'Copied to the clipboard.' : 'The browser did not allow copying: the key is selected, copy it with Ctrl+C (⌘C).';
    r.hidden = false;
  });
  $('dismiss-key').addEventListener('click', hideNewKey);

  // ---- consumer groups

  const gs = { cursors: [''], page: 0, next: '' };

  async function showGroups() {
    show('view-groups');
    const ids = await pickGateway();
    const sel = $('gateway');
    sel.replaceChildren();
    for (const id of ids) sel.append(new Option(id, id));
    sel.value = gateway;
    await loadGroups();
  }

  $('gateway').addEventListener('change', () => {
    gateway = $('gateway').value;
    gs.cursors = [''];
    gs.page = 0;
    clearStatus();
    loadGroups().catch(fail);
  });
  $('groups-next').addEventListener('click', () => {
    if (!gs.next) return;
    gs.cursors[gs.page + 1] = gs.next;
    gs.page++;
    loadGroups().catch(fail);
  });
  $('groups-prev').addEventListener('click', () => {
    if (gs.page === 0) return;
    gs.page--;
    loadGroups().catch(fail);
  });

  async function loadGroups() {
    const rows = $('group-rows');
    if (!gateway) {
      rows.replaceChildren();
      emptyRow(rows, 4, 'No gateway exists yet.');
      $('groups-summary').textContent = '';
      setPager('groups', 0, '', 0);
      return;
    }
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (gs.cursors[gs.page]) q.set('cursor', gs.cursors[gs.page]);
    const page = await api('GET', 'api/v1/gateways/' + enc(gateway) + '/consumer-groups?' + q.toString());
    gs.next = page.next;
    setPager('groups', gs.page, page.next, page.total);
    $('groups-summary').textContent = page.total + (page.total === 1 ? ' consumer group' : ' consumer groups') + ' in gateway “' + gateway + '”.';
    rows.replaceChildren();
    if (!page.items.length) emptyRow(rows, 4, 'No consumer groups.');
    for (const g of page.items) {
      const tr = el('tr');
      tr.dataset.group = g.id;
      cell(tr, link('#/groups/' + enc(gateway) + '/' + enc(g.id), g.name));
      cell(tr, g.id, 'mono');
      cell(tr, (g.required_plugins || []).map((p) => p.name + (p.enabled === false ? ' (disabled)' : '')).join(', ') || '—');
      cell(tr, time(g.updated_at));
      rows.append(tr);
    }
  }

  // ---- one consumer group: its limits and usage

  const shown = { gateway: '', group: '' };

  async function showGroup(gw, id, params) {
    show('view-group');
    shown.gateway = gw;
    shown.group = id;
    gateway = gw;
    $('group-title').textContent = id;
    $('group-subtitle').textContent = '';
    $('group-plugins').replaceChildren();
    $('usage-rows').replaceChildren();
    $('usage-time').textContent = '';
    $('usage-user').value = params.get('user') || '';
    $('usage-ip').value = params.get('ip') || '';
    const g = await api('GET', 'api/v1/gateways/' + enc(gw) + '/consumer-groups/' + enc(id));
    $('group-title').textContent = g.name;
    $('group-subtitle').textContent = 'Consumer group ' + g.id + ' of gateway ' + g.gateway_id + '; updated ' + time(g.updated_at) + ' UTC.';
    renderPlugins(g.required_plugins || []);
    await loadUsage();
  }

  function renderPlugins(plugins) {
    const box = $('group-plugins');
    box.replaceChildren();
    if (!plugins.length) box.append(el('p', 'None: the group applies no plugin.', 'muted'));
    for (const p of plugins) {
      const head = el('p');
      head.append(el('strong', p.name));
      head.append(el('span', ' — ' + (p.enabled === false ? 'disabled' : 'enabled') + ', stage ' + (p.stage || '?') +
        ', priority ' + (p.priority === undefined ? '?' : p.priority) + (p.parallel ? ', parallel' : ''), 'muted'));
      box.append(head);
      box.append(el('pre', JSON.stringify(p.settings === undefined ? {} : p.settings, null, 2)));
    }
  }

  async function loadUsage() {
    const q = new URLSearchParams();
    const user = $('usage-user').value.trim();
    const ip = $('usage-ip').value.trim();
    if (user) q.set('user', user);
    if (ip) q.set('ip', ip);
    const base = 'api/v1/gateways/' + enc(shown.gateway) + '/consumer-groups/' + enc(shown.group) + '/usage';
    const u = await api('GET', base + (q.toString() ? '?' + q.toString() : ''));
    const rows = $('usage-rows');
    rows.replaceChildren();
    if (!u.limits.length) emptyRow(rows, 7, 'The group has no rate limit.');
    for (const l of u.limits) {
      const tr = el('tr');
      tr.dataset.limit = l.plugin + '/' + l.limit;
      cell(tr, l.plugin);
      cell(tr, l.limit);
      cell(tr, l.per);
      cell(tr, l.count + ' per ' + windowText(l.window_seconds), 'num');
      if (l.used === null || l.used === undefined) {
        const why = l.needs === 'user' ? 'give a consumer above'
          : l.needs === 'ip' ? 'give an IP above'
            : l.needs === 'route' ? 'per route: not shown here'
              : 'counted per ' + l.per + ': not shown here';
        const td = cell(tr, why, 'empty');
        td.colSpan = 3;
        td.classList.add('usage-used');
      } else {
        const td = cell(tr, String(l.used), 'num usage-used');
        const bar = document.createElement('progress');
        bar.max = l.count;
        bar.value = l.used;
        td.append(bar);
        cell(tr, l.remaining, 'num');
        cell(tr, l.reset ? l.reset + ' s' : 'now', 'num');
      }
      rows.append(tr);
    }
    $('usage-time').textContent = 'Read at ' + new Date().toISOString().slice(11, 19) + ' UTC' +
      (u.user ? ' for consumer ' + u.user : '') + (u.ip ? ' and IP ' + u.ip : '') + '.';
  }

  $('usage-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearStatus();
    const q = new URLSearchParams();
    const user = $('usage-user').value.trim();
    const ip = $('usage-ip').value.trim();
    if (user) q.set('user', user);
    if (ip) q.set('ip', ip);
    const hash = '#/groups/' + enc(shown.gateway) + '/' + enc(shown.group) + (q.toString() ? '?' + q.toString() : '');
    window.history.replaceState(null, '', hash);
    loadUsage().catch(fail);
  });
  $('usage-auto').addEventListener('change', () => {
    if (autoTimer) window.clearInterval(autoTimer);
    autoTimer = null;
    if ($('usage-auto').checked) {
      autoTimer = window.setInterval(() => {
        loadUsage().catch((err) => {
          stopAuto();
          fail(err);
        });
      }, AUTO_REFRESH_MS);
    }
  });

  window.addEventListener('hashchange', route);
  route();
}());
