// Hypervision live wall preview.
//
// Subscribes to /api/v1/walls/{id}/stream over WebSocket, keeps the scene current by applying
// RFC 6902 patches, and draws the wall: displays with bezels, tiles with title, status and reason,
// playable camera streams (else a placeholder), maps with units and incidents, incident panels.
//
// Vanilla ES2020, no dependencies, no build step: the daemon serves this file as is, and a command
// room has no internet. Scene strings are only ever written with textContent (never innerHTML),
// since titles, callsigns and summaries come from outside systems.
//
// The same script draws three pages, by <body data-mode>:
//   preview   /walls/{id}[?display=]: the whole wall (or one display) scaled into the window;
//   renderer  /render/{wall}/{display}: one display full-screen, for Chromium in kiosk mode on a
//             wall-controller PC (no status bar; a corner badge only when the link is down);
//   embedded  the console's view of the wall (?embed=1): it can be shown a past scene.
//
// Nothing drawn falls in a bezel band: on a tile that spans displays (a map over two panels),
// markers and labels are moved off the bands, and incident rows skip them.
//
// For tests, window.hypervision exposes the state ({seq, scene, connected, reconnects, messages, …}
// and dropConnection()), and every drawn thing carries a stable data- attribute: data-display-id,
// data-tile-id, data-unit-id, data-incident-id.
'use strict';

(() => {
  // ---------------------------------------------------------------- configuration

  const DEAD_LINK_MS = 6000;      // heartbeats come about every 2 s: three missed means a dead link
  const BACKOFF_MIN_MS = 250;
  const BACKOFF_MAX_MS = 5000;
  const STREAM_RETRY_MS = 10000;  // a failed camera stream is retried after this long
  const STREAM_START_MS = 15000;  // a stream that shows no picture by then counts as failed
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const params = new URLSearchParams(location.search);
  const route = routeFromPath(location.pathname);
  const wallId = route.wall;
  const token = params.get('token') || undefined;
  const displayFilter = route.display || params.get('display') || undefined;
  const mode = document.body.dataset.mode || (params.get('embed') ? 'embedded' : 'preview');
  document.body.dataset.mode = mode;
  // The daemons to subscribe to (?daemons=host:port,host:port: several daemons sharing one
  // database, as GET /api/v1/cluster lists them), the page's own first. After a lost or failed
  // connection the next is tried, resuming with `since`: every daemon of a cluster relays the
  // same numbered scenes.
  const daemons = [location.host, ...(params.get('daemons') || '').split(',').map((d) => d.trim())
    .filter((d) => d && d !== location.host)];

  /** /walls/{id} or /render/{wall}[/{display}] (a trailing slash tolerated). */
  function routeFromPath(path) {
    const decode = (text) => { try { return decodeURIComponent(text); } catch (_) { return text; } };
    const render = /\/render\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
    if (render) return { wall: decode(render[1]), display: render[2] ? decode(render[2]) : null };
    const match = /\/walls\/([^/]+)\/?$/.exec(path);
    return { wall: match ? decode(match[1]) : 'demo', display: null };
  }

  // ---------------------------------------------------------------- RFC 6902 JSON Patch

  const JsonPatch = (() => {
    class PatchError extends Error {}
    const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
    const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

    // defineProperty rather than assignment so a key such as "__proto__" is stored as data.
    function setOwn(obj, key, value) {
      Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
    }

    /** RFC 6901: "" is the whole document; "~1" means "/" and "~0" means "~" (decoded in that order). */
    function parsePointer(pointer) {
      if (typeof pointer !== 'string') throw new PatchError('pointer must be a string');
      if (pointer === '') return [];
      if (pointer[0] !== '/') throw new PatchError(`pointer ${JSON.stringify(pointer)} must start with "/"`);
      return pointer.slice(1).split('/').map((token) => {
        if (/~(?![01])/.test(token)) throw new PatchError(`bad "~" escape in ${JSON.stringify(pointer)}`);
        return token.replace(/~1/g, '/').replace(/~0/g, '~');
      });
    }

    /** An array index token: digits without leading zeros; "-" (past the end) only where adding. */
    function arrayIndex(array, token, forAdd) {
      if (forAdd && token === '-') return array.length;
      if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchError(`bad array index ${JSON.stringify(token)}`);
      const index = Number(token);
      if (index > array.length || (!forAdd && index === array.length)) {
        throw new PatchError(`array index ${index} out of range (length ${array.length})`);
      }
      return index;
    }

    function resolve(doc, tokens) {
      let current = doc;
      for (let i = 0; i < tokens.length; i++) {
        const token = tokens[i];
        if (Array.isArray(current)) current = current[arrayIndex(current, token, false)];
        else if (isObject(current) && hasOwn(current, token)) current = current[token];
        else throw new PatchError(`no value at /${tokens.slice(0, i + 1).join('/')}`);
      }
      return current;
    }

    function parentOf(doc, tokens) {
      const parent = resolve(doc, tokens.slice(0, -1));
      if (parent === null || typeof parent !== 'object') throw new PatchError('parent is not a container');
      return [parent, tokens[tokens.length - 1]];
    }

    function add(doc, tokens, value) {
      if (tokens.length === 0) return value;
      const [parent, key] = parentOf(doc, tokens);
      if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
      else setOwn(parent, key, value);
      return doc;
    }

    function remove(doc, tokens) {
      if (tokens.length === 0) throw new PatchError('cannot remove the whole document');
      const [parent, key] = parentOf(doc, tokens);
      if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false), 1)[0];
      if (!hasOwn(parent, key)) throw new PatchError(`no member ${JSON.stringify(key)} to remove`);
      const value = parent[key];
      delete parent[key];
      return value;
    }

    function replace(doc, tokens, value) {
      if (tokens.length === 0) return value;
      const [parent, key] = parentOf(doc, tokens);
      if (Array.isArray(parent)) parent[arrayIndex(parent, key, false)] = value;
      else if (hasOwn(parent, key)) setOwn(parent, key, value);
      else throw new PatchError(`no member ${JSON.stringify(key)} to replace`);
      return doc;
    }

    function equal(a, b) {
      if (a === b) return true;
      if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => equal(v, b[i]));
      if (isObject(a) && isObject(b)) {
        const ka = Object.keys(a), kb = Object.keys(b);
        return ka.length === kb.length && ka.every((k) => hasOwn(b, k) && equal(a[k], b[k]));
      }
      return false;
    }

    const clone = (v) => (v === null || typeof v !== 'object') ? v : JSON.parse(JSON.stringify(v));

    function applyOne(doc, op) {
      if (!isObject(op)) throw new PatchError('operation is not an object');
      const path = parsePointer(op.path);
      const needValue = () => {
        if (!hasOwn(op, 'value')) throw new PatchError(`"${op.op}" needs a "value"`);
        return clone(op.value);
      };
      switch (op.op) {
        case 'add': return add(doc, path, needValue());
        case 'remove': remove(doc, path); return doc;
        case 'replace': resolve(doc, path); return replace(doc, path, needValue());
        case 'move': {
          const from = parsePointer(op.from);
          // A value cannot move inside itself (RFC 6902 §4.4).
          if (from.length < path.length && from.every((t, i) => t === path[i])) {
            throw new PatchError('cannot move a value into one of its children');
          }
          if (from.length === path.length && from.every((t, i) => t === path[i])) { resolve(doc, from); return doc; }
          return add(doc, path, remove(doc, from));
        }
        case 'copy': return add(doc, path, clone(resolve(doc, parsePointer(op.from))));
        case 'test':
          if (!equal(resolve(doc, path), needValue())) throw new PatchError(`test failed at ${op.path}`);
          return doc;
        default: throw new PatchError(`unknown op ${JSON.stringify(op.op)}`);
      }
    }

    /** Applies every operation to a copy of doc: all or nothing, the original is never touched. */
    function apply(doc, operations) {
      if (!Array.isArray(operations)) throw new PatchError('a patch must be an array');
      let result = clone(doc);
      operations.forEach((op, i) => {
        try {
          result = applyOne(result, op);
        } catch (e) {
          throw new PatchError(`operation ${i} (${op && op.op} ${op && op.path}): ${e.message}`);
        }
      });
      return result;
    }

    return { apply, parsePointer, PatchError };
  })();

  // ---------------------------------------------------------------- state shared with tests

  const state = {
    wall: wallId,
    display: displayFilter || null,
    daemons,
    daemon: daemons[0],   // the daemon subscribed to, or tried next
    seq: null,            // the sequence number of `scene`; null until the first scene
    scene: null,
    connected: false,     // the WebSocket is open and subscribed
    reconnects: 0,        // connection attempts after the first one
    messages: 0,          // messages received, all types
    scenes: 0, patches: 0, heartbeats: 0, errors: 0,
    resyncs: 0,           // resubscriptions caused by a patch that did not fit the held scene
    deadLinks: 0,         // connections dropped because nothing arrived for DEAD_LINK_MS
    lastMessageAt: 0,     // Date.now() of the last message (or of the connection attempt)
    lastHeartbeatSeq: null,
    lastError: null,      // the last problem, for people and tests
    nextAttemptAt: 0,
    renders: 0,
    mode,
    shown: null,          // a scene drawn instead of the live one (the console's scene log), or null
    highlighted: null,    // the tile id the console points at
    streams: {},          // tile id -> {state, quality, url}: what each camera tile plays
    basemaps: {},         // map tile id -> what its basemap drew ({features: {land: n, …}, rasterTiles, zoneCells, tracks})
    bezelMoves: 0,        // markers moved off a bezel band, labels moved or hidden (all time)
    applyPatch: JsonPatch.apply,  // exposed so tests can check the RFC 6902 implementation itself
    dropConnection: () => { state.lastError = 'connection dropped on request'; teardown('dropped on request', false); },
    render: () => render(),
    /** Draws `scene` (a past scene from the log) until called with null; the live scene keeps updating meanwhile. */
    showScene: (scene) => { state.shown = scene && typeof scene === 'object' ? scene : null; document.body.classList.toggle('showing-past', !!state.shown); render(); },
    /** Outlines one tile (null: none). */
    highlight: (tileId) => { state.highlighted = tileId || null; render(); },
  };
  window.hypervision = state;

  // ---------------------------------------------------------------- connection

  let socket = null;
  let backoffAttempt = 0;
  let reconnectTimer = null;
  let connectAttempts = 0;
  let daemonIndex = 0;
  let lastResyncAt = 0;
  let needFullScene = true;   // subscribe without `since` when the held scene cannot be trusted

  function streamURL() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${daemons[daemonIndex]}/api/v1/walls/${encodeURIComponent(wallId)}/stream`;
  }

  function connect() {
    reconnectTimer = null;
    if (connectAttempts++ > 0) state.reconnects++;
    state.lastMessageAt = Date.now();  // a connection that never opens is dead after DEAD_LINK_MS too
    let sock;
    try {
      sock = new WebSocket(streamURL());
    } catch (e) {
      state.lastError = `cannot open WebSocket: ${e.message}`;
      scheduleReconnect(false);
      return;
    }
    socket = sock;
    sock.onopen = () => {
      if (sock !== socket) return;
      state.connected = true;
      const request = { type: 'subscribe', wall: wallId };
      if (token) request.token = token;
      if (displayFilter) request.display = displayFilter;
      // Resume from what we hold: the daemon sends the missing patches, or a full scene.
      if (!needFullScene && state.scene !== null && state.seq !== null) request.since = state.seq;
      sock.send(JSON.stringify(request));
      updateStatus();
    };
    sock.onmessage = (event) => { if (sock === socket) onMessage(event.data); };
    sock.onerror = () => {};  // always followed by onclose, which reconnects
    sock.onclose = (event) => {
      if (sock !== socket) return;
      socket = null;
      state.connected = false;
      if (!state.lastError) state.lastError = `connection closed (${event.code}${event.reason ? ' ' + event.reason : ''})`;
      scheduleReconnect(false);
      updateStatus();
    };
  }

  /** Drops the current socket without waiting for its close handshake (a dead link may never finish one). */
  function teardown(why, immediately) {
    const sock = socket;
    socket = null;
    state.connected = false;
    if (sock) {
      sock.onopen = sock.onmessage = sock.onerror = sock.onclose = null;
      try { sock.close(4000, String(why).slice(0, 100)); } catch (_) { /* already closing */ }
    }
    scheduleReconnect(immediately);
    updateStatus();
  }

  function scheduleReconnect(immediately) {
    if (reconnectTimer !== null) return;
    let delay = 0;
    if (!immediately) {
      // A lost or failed connection: the next daemon of the list (if there are several).
      daemonIndex = (daemonIndex + 1) % daemons.length;
      state.daemon = daemons[daemonIndex];
      // Exponential backoff with jitter, so renderers do not all hammer a restarting daemon at once.
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** backoffAttempt);
      delay = Math.min(BACKOFF_MAX_MS, base * (0.75 + Math.random() * 0.5));
      backoffAttempt = Math.min(backoffAttempt + 1, 10);
    }
    state.nextAttemptAt = Date.now() + delay;
    reconnectTimer = setTimeout(connect, delay);
  }

  /** Resubscribes because the held scene and the stream disagree; immediately, unless it keeps happening. */
  function resync(reason, dropScene) {
    state.resyncs++;
    state.lastError = reason;
    if (dropScene) needFullScene = true;
    const now = Date.now();
    const immediately = now - lastResyncAt > 5000;
    lastResyncAt = now;
    teardown(reason, immediately);
  }

  function onMessage(text) {
    state.messages++;
    state.lastMessageAt = Date.now();
    let message;
    try {
      message = JSON.parse(text);
    } catch (_) {
      resync('malformed message from the daemon', false);
      return;
    }
    if (message === null || typeof message !== 'object') { resync('message is not an object', false); return; }
    switch (message.type) {
      case 'scene':
        if (message.scene === null || typeof message.scene !== 'object' || !Number.isInteger(message.seq)) {
          resync('malformed scene message', true);
          return;
        }
        state.scene = message.scene;
        state.seq = message.seq;
        state.scenes++;
        fetchWallGeometry();
        needFullScene = false;
        backoffAttempt = 0;
        state.lastError = null;
        render();
        break;
      case 'patch':
        // A patch applies only to the scene it was computed from; anything else means a gap.
        if (state.scene === null || needFullScene || message.base !== state.seq) {
          resync(`patch for base ${message.base} while holding ${state.seq}`, false);
          return;
        }
        try {
          state.scene = JsonPatch.apply(state.scene, message.patch);
        } catch (e) {
          // Keep drawing the last good scene, but ask for a full one.
          resync(`patch ${message.seq} failed: ${e.message}`, true);
          return;
        }
        state.seq = message.seq;
        state.patches++;
        backoffAttempt = 0;
        state.lastError = null;
        render();
        break;
      case 'heartbeat':
        // A heartbeat only proves the link is alive. A newer seq in it means a patch is on its
        // way (the daemon may coalesce), so it is no reason to resubscribe.
        state.heartbeats++;
        state.lastHeartbeatSeq = Number.isInteger(message.seq) ? message.seq : null;
        backoffAttempt = 0;
        break;
      case 'error':
        // The daemon closes after an error; onclose reconnects. Refusals that will not fix
        // themselves (token, wall) are retried at the slowest pace.
        state.errors++;
        state.lastError = `${message.code || 'error'}: ${message.message || ''}`;
        if (['unauthorized', 'forbidden', 'not_found', 'bad_request'].includes(message.code)) backoffAttempt = 10;
        // A stream started over under other numbers: what is held is no base for its patches.
        if (message.code === 'not_found' || message.code === 'renumbered') needFullScene = true;
        break;
      default:
        // Unknown message types are ignored so newer daemons can add some.
        break;
    }
    updateStatus();
  }

  // ---------------------------------------------------------------- status line

  const statusEl = document.getElementById('status');
  const statusText = document.getElementById('status-text');

  function seconds(ms) { return `${(Math.max(0, ms) / 1000).toFixed(1)} s`; }

  function updateStatus() {
    const now = Date.now();
    const parts = [`wall ${wallId}${displayFilter ? ' / ' + displayFilter : ''}`];
    let mode;
    if (state.connected && state.scene) {
      const age = now - state.lastMessageAt;
      mode = age > 3000 ? 'stale' : 'connected';
      parts.push('connected');
    } else if (state.connected) {
      mode = 'connecting';
      parts.push('subscribing…');
    } else if (reconnectTimer !== null) {
      mode = state.errors > 0 && backoffAttempt >= 10 ? 'error' : 'reconnecting';
      parts.push(`reconnecting in ${seconds(state.nextAttemptAt - now)}`);
    } else {
      mode = 'connecting';
      parts.push('connecting…');
    }
    parts.push(`seq ${state.seq === null ? '–' : state.seq}`);
    if (state.lastMessageAt && state.messages > 0) parts.push(`last message ${seconds(now - state.lastMessageAt)} ago`);
    if (state.scene) {
      const count = (o) => (o && typeof o === 'object' ? Object.keys(o).length : 0);
      parts.push(`${count(state.scene.tiles)} tiles, ${count(state.scene.units)} units, ${count(state.scene.incidents)} incidents`);
    }
    parts.push(`reconnects ${state.reconnects}`);
    if (state.lastError) parts.push(state.lastError);
    statusEl.dataset.state = mode;
    statusText.textContent = parts.join(' · ');
  }

  // Dead-link detection and the status line's clock.
  setInterval(() => {
    if (socket && Date.now() - state.lastMessageAt > DEAD_LINK_MS) {
      state.deadLinks++;
      state.lastError = `no message for ${DEAD_LINK_MS / 1000} s: dead link`;
      teardown('dead link', false);
    }
    updateStatus();
  }, 250);

  // ---------------------------------------------------------------- drawing helpers

  const stage = document.getElementById('stage');
  const wallEl = document.getElementById('wall');
  const displaysLayer = document.getElementById('displays');
  const tilesLayer = document.getElementById('tiles');
  const bezelsSvg = document.getElementById('bezels');

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const num = (v, fallback = 0) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attributes || {})) node.setAttribute(k, v);
    return node;
  }

  function setText(node, text) { if (node.textContent !== text) node.textContent = text; }

  function place(node, x, y, width, height) {
    node.style.left = `${x}px`;
    node.style.top = `${y}px`;
    node.style.width = `${Math.max(0, width)}px`;
    node.style.height = `${Math.max(0, height)}px`;
  }

  /** Canvas size and displays, for a whole-wall scene or a one-display view (subscribed with display=). */
  function geometry(scene) {
    if (isObject(scene.canvas) && isObject(scene.displays)) return { canvas: scene.canvas, displays: scene.displays };
    if (isObject(scene.size) && typeof scene.display === 'string') {
      const { width, height } = scene.size;
      return { canvas: scene.size, displays: { [scene.display]: { x: 0, y: 0, width, height } } };
    }
    return null;
  }

  // Only http(s) or same-origin URLs are handed to <video>/<img>.
  function safeURL(url) {
    if (typeof url !== 'string' || url === '') return null;
    try {
      const parsed = new URL(url, location.href);
      return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  // ---------------------------------------------------------------- bezels

  // A renderer of one display gets that display's view; to keep markers off the bezels exactly as
  // the other displays' renderers do, it reads the whole wall's geometry once (same token).
  let wallGeometry = null;
  let wallGeometryAt = 0;

  function fetchWallGeometry() {
    if (!displayFilter || Date.now() - wallGeometryAt < 30000) return;
    wallGeometryAt = Date.now();
    const url = `/api/v1/walls/${encodeURIComponent(wallId)}/scene`;
    fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : null))
      .then((scene) => {
        const geo = scene && geometry(scene);
        if (geo && isObject(geo.displays[displayFilter])) { wallGeometry = geo; render(); }
      })
      .catch(() => {});
  }

  /** The parts of `rect` (canvas pixels, or the shown display's pixels in a display view) that lie
      on a display, in `rect`'s own CSS pixels, top-left first; `inner` names the sides that border
      a bezel band rather than the edge of `rect`. */
  function panesOf(rect, geo, scale) {
    let displays = geo.displays, dx = 0, dy = 0;
    if (displayFilter && wallGeometry && isObject(wallGeometry.displays[displayFilter])) {
      displays = wallGeometry.displays;
      dx = num(wallGeometry.displays[displayFilter].x);
      dy = num(wallGeometry.displays[displayFilter].y);
    }
    const rx = num(rect.x) + dx, ry = num(rect.y) + dy, rw = num(rect.width), rh = num(rect.height);
    const panes = [];
    for (const d of Object.values(displays)) {
      if (!isObject(d)) continue;
      const x0 = Math.max(rx, num(d.x)), y0 = Math.max(ry, num(d.y));
      const x1 = Math.min(rx + rw, num(d.x) + num(d.width)), y1 = Math.min(ry + rh, num(d.y) + num(d.height));
      if (x1 <= x0 || y1 <= y0) continue;
      panes.push({
        x: (x0 - rx) * scale, y: (y0 - ry) * scale, width: (x1 - x0) * scale, height: (y1 - y0) * scale,
        inner: { left: x0 > rx + 0.5, top: y0 > ry + 0.5, right: x1 < rx + rw - 0.5, bottom: y1 < ry + rh - 0.5 },
      });
    }
    panes.sort((a, b) => a.y - b.y || a.x - b.x);
    return panes;
  }

  const hasBands = (panes) => panes.some((p) => p.inner.left || p.inner.top || p.inner.right || p.inner.bottom);

  /** The nearest point to (x, y) where a mark of radius r lies wholly on one display. */
  function offBands(panes, x, y, r) {
    if (!hasBands(panes)) return [x, y, false];
    let best = null;
    for (const p of panes) {
      const x0 = p.x + (p.inner.left ? r : 0), x1 = p.x + p.width - (p.inner.right ? r : 0);
      const y0 = p.y + (p.inner.top ? r : 0), y1 = p.y + p.height - (p.inner.bottom ? r : 0);
      if (x1 < x0 || y1 < y0) continue;
      if (x >= x0 && x <= x1 && y >= y0 && y <= y1) return [x, y, false];
      const cx = clamp(x, x0, x1), cy = clamp(y, y0, y1);
      const d = (cx - x) ** 2 + (cy - y) ** 2;
      if (!best || d < best[2]) best = [cx, cy, d];
    }
    return best ? [best[0], best[1], true] : [x, y, false];
  }

  /** Whether a box (x, y, width, height, in the same pixels as the panes) crosses no bezel band:
      its part inside the panes' area lies on one display. */
  function boxOnOneDisplay(panes, box, width, height) {
    if (!hasBands(panes)) return true;
    const x0 = Math.max(0, box.x), y0 = Math.max(0, box.y);
    const x1 = Math.min(width, box.x + box.width), y1 = Math.min(height, box.y + box.height);
    if (x1 <= x0 || y1 <= y0) return true;
    return panes.some((p) => x0 >= p.x - 0.01 && y0 >= p.y - 0.01 && x1 <= p.x + p.width + 0.01 && y1 <= p.y + p.height + 0.01);
  }

  // ---------------------------------------------------------------- rendering

  const displayViews = new Map();  // display id -> element
  const tileViews = new Map();     // tile id -> view
  let bezelKey = '';

  /** Draws the held scene. Cheap and idempotent: elements are kept by id and only changed fields are touched. */
  function render() {
    const scene = state.shown || state.scene;
    if (!scene) return;
    const geo = geometry(scene);
    if (!geo || !(num(geo.canvas.width) > 0) || !(num(geo.canvas.height) > 0)) return;
    state.renders++;

    const box = stage.getBoundingClientRect();
    // A renderer fills its screen edge to edge; the preview leaves a margin around the wall.
    const margin = mode === 'renderer' ? 0 : mode === 'embedded' ? 4 : 8;
    const W = geo.canvas.width, H = geo.canvas.height;
    const scale = Math.max(0.001, Math.min((box.width - 2 * margin) / W, (box.height - 2 * margin) / H));
    stage.classList.add('has-scene');
    place(wallEl, (box.width - W * scale) / 2, (box.height - H * scale) / 2, W * scale, H * scale);
    wallEl.dataset.wallId = String(scene.wall ?? wallId);
    wallEl.dataset.seq = String(state.seq);
    wallEl.dataset.scale = String(scale);

    renderDisplays(geo, scale);
    renderBezels(geo, scale);
    renderTiles(scene, scale, geo);
  }

  function renderDisplays(geo, scale) {
    const seen = new Set();
    for (const [id, rect] of Object.entries(geo.displays)) {
      if (!isObject(rect)) continue;
      seen.add(id);
      let node = displayViews.get(id);
      if (!node) {
        node = el('div', 'display');
        node.dataset.displayId = id;
        node.appendChild(el('span', 'display-label', id));
        displayViews.set(id, node);
        displaysLayer.appendChild(node);
      }
      place(node, num(rect.x) * scale, num(rect.y) * scale, num(rect.width) * scale, num(rect.height) * scale);
    }
    for (const [id, node] of displayViews) {
      if (!seen.has(id)) { node.remove(); displayViews.delete(id); }
    }
  }

  /** The bezels are drawn over the tiles: the canvas minus the displays (even-odd), plus a thin frame
      around each display so that bezels stay visible when the wall is scaled down a lot. */
  function renderBezels(geo, scale) {
    const W = geo.canvas.width * scale, H = geo.canvas.height * scale;
    const rects = Object.values(geo.displays).filter(isObject)
      .map((r) => [num(r.x) * scale, num(r.y) * scale, num(r.width) * scale, num(r.height) * scale]);
    const key = JSON.stringify([W, H, rects]);
    if (key === bezelKey) return;
    bezelKey = key;
    bezelsSvg.setAttribute('width', W);
    bezelsSvg.setAttribute('height', H);
    bezelsSvg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    let d = `M0 0H${W}V${H}H0Z`;
    for (const [x, y, w, h] of rects) d += `M${x} ${y}h${w}v${h}h${-w}Z`;
    const children = [svg('path', { d, 'fill-rule': 'evenodd' })];
    for (const [x, y, w, h] of rects) children.push(svg('rect', { x: x + 0.5, y: y + 0.5, width: Math.max(0, w - 1), height: Math.max(0, h - 1) }));
    bezelsSvg.replaceChildren(...children);
  }

  function renderTiles(scene, scale, geo) {
    const tiles = isObject(scene.tiles) ? scene.tiles : {};
    const seen = new Set();
    for (const [id, tile] of Object.entries(tiles)) {
      seen.add(id);
      let view = tileViews.get(id);
      if (!view) {
        view = createTileView(id);
        tileViews.set(id, view);
        tilesLayer.appendChild(view.root);
      }
      try {
        updateTileView(view, tile, scene, scale, geo);
      } catch (e) {
        // One odd tile must never stop the rest of the wall from drawing.
        console.error(`tile ${id}:`, e);
        resetContent(view, 'error');
        view.content.appendChild(placeholder('cannot draw this tile', String(e.message), 'error'));
      }
    }
    for (const [id, view] of tileViews) {
      if (!seen.has(id)) { resetContent(view, null); view.root.remove(); tileViews.delete(id); }
    }
  }

  function createTileView(id) {
    const root = el('div', 'tile');
    root.dataset.tileId = id;
    const content = el('div', 'tile-content');
    const caption = el('div', 'tile-caption');
    const title = el('span', 'tile-title');
    const status = el('span', 'tile-status');
    const reason = el('span', 'tile-reason');
    caption.append(title, status, reason);
    const banner = el('div', 'offline-banner', 'OFFLINE');
    root.append(content, banner, caption);
    return { id, root, content, caption, banner, title, status, reason, kind: null, k: {}, panes: [] };
  }

  /** Empties a tile's content, stopping any media so a removed tile releases its stream. */
  function resetContent(view, kind) {
    if (view.k && view.k.basemap) view.k.basemap.destroy();
    if (view.k && view.k.timers) view.k.timers.forEach(clearTimeout);
    delete state.streams[view.id];
    for (const media of view.content.querySelectorAll('video, img')) {
      media.onerror = null;
      if (media.tagName === 'VIDEO') { media.pause(); media.removeAttribute('src'); media.load(); } else media.removeAttribute('src');
    }
    view.content.replaceChildren();
    delete view.content.dataset.media;
    view.kind = kind;
    view.k = {};
  }

  function updateTileView(view, tile, scene, scale, geo) {
    if (!isObject(tile)) throw new Error('tile is not an object');
    const source = isObject(tile.source) ? tile.source : {};
    const rect = isObject(tile.rect) ? tile.rect : { x: 0, y: 0, width: 0, height: 0 };
    const x = num(rect.x), y = num(rect.y), w = num(rect.width), h = num(rect.height);
    const root = view.root;

    place(root, x * scale, y * scale, w * scale, h * scale);
    root.style.zIndex = String(num(tile.z));
    // Captions scale with the tile but stay readable.
    root.style.fontSize = `${clamp(Math.min(w, h) * scale / 9, 8, 15).toFixed(1)}px`;
    const kind = typeof source.kind === 'string' ? source.kind : 'unknown';
    const status = typeof source.status === 'string' ? source.status : 'unknown';
    root.dataset.kind = kind;
    root.dataset.status = status;
    root.classList.toggle('highlighted', state.highlighted === view.id);
    root.dataset.sourceId = String(source.id ?? '');
    if (tile.region !== undefined) root.dataset.region = String(tile.region);
    setText(view.title, String(source.title || source.id || view.id));
    setText(view.status, status);
    setText(view.reason, typeof tile.reason === 'string' ? tile.reason : '');
    root.title = `${source.title || view.id} (${status}) — ${tile.reason || ''}`;

    // The content rectangle (letterbox) is in canvas coordinates like the tile's rect.
    const content = isObject(tile.fit) && isObject(tile.fit.content) ? tile.fit.content : rect;
    const cw = num(content.width) * scale, ch = num(content.height) * scale;
    place(view.content, (num(content.x) - x) * scale, (num(content.y) - y) * scale, cw, ch);
    const fitMode = isObject(tile.fit) && ['contain', 'cover', 'fill'].includes(tile.fit.mode) ? tile.fit.mode : 'contain';

    // Where the tile is seen: its parts on displays. Captions, banners and cards keep to the
    // first (top-left) part; the content's drawers keep everything off the bands in between.
    const tilePanes = panesOf(rect, geo, scale);
    const contentPanes = panesOf(content, geo, scale);
    view.panes = contentPanes;
    const first = tilePanes[0];
    if (first && tilePanes.length > 1) {
      place(view.caption, first.x, first.y, first.width, 0);
      view.caption.style.height = '';
      place(view.banner, first.x + first.width / 2, first.y + first.height / 2, 0, 0);
      view.banner.style.width = view.banner.style.height = '';
    } else {
      for (const prop of ['left', 'top', 'width', 'height']) view.caption.style[prop] = view.banner.style[prop] = '';
    }

    if (view.kind !== kind) resetContent(view, kind);
    switch (kind) {
      case 'camera': drawCamera(view, source, fitMode, cw, ch); break;
      case 'map': drawMap(view, source, scene, cw, ch); break;
      case 'incidents': drawIncidentPanel(view, source, scene); break;
      case 'web': drawWeb(view, source); break;
      default:
        if (view.k.key !== kind) {
          view.k.key = kind;
          view.content.replaceChildren(placeholder(`unknown source kind: ${kind}`, '', 'unknown-kind'));
        }
    }
  }

  function placeholder(main, detail, reason) {
    const box = el('div', 'placeholder');
    box.dataset.placeholder = reason;
    box.appendChild(el('span', 'ph-main', main));
    if (detail) box.appendChild(el('span', 'ph-url', detail));
    return box;
  }

  // ---------------------------------------------------------------- camera tiles

  const probeVideo = document.createElement('video');
  const canPlayHLS = !!probeVideo.canPlayType('application/vnd.apple.mpegurl');
  const failedStreams = new Map();  // url -> Date.now() of its failure
  state.canPlayHLS = canPlayHLS;

  // VMS quality names, from the lightest variant to the sharpest.
  const QUALITY_RANK = { thumb: 0, thumbnail: 0, preview: 0, low: 0, sub: 1, substream: 1, medium: 1, mid: 1, main: 2, high: 2, hd: 2 };

  function recentlyFailed(url) {
    const at = failedStreams.get(url);
    return at !== undefined && Date.now() - at < STREAM_RETRY_MS;
  }

  /** The variant a tile this many device pixels wide wants: preview up to 400, sub up to 1000, main beyond. */
  function wantedRank(pixels) { return pixels <= 400 ? 0 : pixels <= 1000 ? 1 : 2; }

  /** What a camera tile plays: among the streams this browser can play (HLS where the browser
      plays it natively, MJPEG always, in an <img>; RTSP and WebRTC need the wall controllers'
      players), the variant nearest the tile's size, the sharper one on a tie. */
  function chooseStream(streams, pixels) {
    const list = Array.isArray(streams) ? streams.filter(isObject) : [];
    const want = wantedRank(pixels);
    const playable = [];
    list.forEach((stream, order) => {
      const url = safeURL(stream.url);
      if (!url || recentlyFailed(url)) return;
      const type = stream.protocol === 'hls' && canPlayHLS ? 'video' : stream.protocol === 'mjpeg' ? 'img' : null;
      if (!type) return;
      const rank = QUALITY_RANK[String(stream.quality || '').toLowerCase()] ?? 1;
      playable.push({ type, url, protocol: stream.protocol, quality: String(stream.quality || ''), rank, order });
    });
    if (playable.length > 0) {
      const cost = (c) => (c.rank >= want ? c.rank - want : 10 + want - c.rank);
      playable.sort((a, b) => cost(a) - cost(b) || a.order - b.order);
      const { type, url, protocol, quality } = playable[0];
      return { type, url, protocol, quality };
    }
    const protocols = [...new Set(list.map((s) => s.protocol).filter((p) => typeof p === 'string'))];
    if (list.length === 0) return { type: 'placeholder', main: 'no stream', detail: 'the camera record has no stream', reason: 'no-stream' };
    const failed = list.filter((s) => safeURL(s.url) && recentlyFailed(safeURL(s.url)));
    if (failed.length > 0) {
      return {
        type: 'placeholder', main: 'stream unavailable',
        detail: `${failed[0].protocol} ${failed[0].quality || ''} did not answer; retrying every ${STREAM_RETRY_MS / 1000} s`,
        reason: 'stream-failed',
      };
    }
    return {
      type: 'placeholder', main: `no playable stream: ${protocols.join(', ')}`,
      detail: 'plays on the wall controllers, not in a browser', reason: 'no-playable-stream',
    };
  }

  /** A card in the tile's first part on a display, so no bezel crosses its text. */
  function keepToFirstPane(view, node, width, height) {
    const pane = view.panes[0];
    if (!pane || view.panes.length < 2 || (pane.width >= width - 0.5 && pane.height >= height - 0.5)) return node;
    node.style.position = 'absolute';
    place(node, pane.x, pane.y, pane.width, pane.height);
    return node;
  }

  function drawCamera(view, source, fitMode, width, height) {
    const offline = source.status === 'offline';
    const pixels = width * (window.devicePixelRatio || 1);
    // An offline camera's stream is not even asked for: a clear state, no browser error.
    // A past scene (the console's scene log) never shows live video as if it were then.
    const past = state.shown ? String(state.shown.generatedAt || '') : null;
    const choice = past !== null
      ? { type: 'placeholder', main: 'recorded video: see the VMS', detail: `live video is not shown in a past scene (${past.replace('T', ' ').slice(0, 19)} UTC)`, reason: 'past' }
      : offline
        ? { type: 'placeholder', main: 'camera offline', detail: 'no signal: the stream is not requested until the camera is back', reason: 'offline' }
        : chooseStream(source.streams, pixels);
    const key = JSON.stringify([choice, fitMode, view.panes.length > 1 ? view.panes[0] : null]);
    if (view.k.key === key) return;  // keep a playing stream playing across patches
    resetContent(view, 'camera');
    view.k.key = key;
    view.k.timers = [];
    const content = view.content;
    content.dataset.media = choice.type;
    const record = { state: choice.type === 'placeholder' ? choice.reason : 'connecting', quality: choice.quality || null, url: choice.url || null };
    state.streams[view.id] = record;
    const onFailure = (url) => () => {
      // Never break on a failing stream: remember it, fall back to the next one or a clear state.
      failedStreams.set(url, Date.now());
      record.state = 'failed';
      if (tileViews.get(view.id) === view) { view.k.key = null; render(); }
      // Try again later even if no patch comes to redraw (a quiet wall, a past scene shown).
      setTimeout(() => { if (tileViews.get(view.id) === view) { view.k.key = null; render(); } }, STREAM_RETRY_MS + 100);
    };
    // A stream that never errors but never shows a picture either (an unreachable host) fails too.
    const watchdog = (media, hasPicture) => view.k.timers.push(setTimeout(() => {
      if (media.isConnected && !hasPicture()) onFailure(media.dataset.url)();
    }, STREAM_START_MS));
    const connecting = keepToFirstPane(view, el('div', 'stream-state connecting'), width, height);
    connecting.append(el('span', 'spinner'), el('span', 'ph-main', 'connecting to the stream…'));
    const playing = () => {
      record.state = 'playing';
      connecting.remove();
    };
    if (choice.type === 'video') {
      const video = el('video', `media fit-${fitMode}`);
      video.muted = true;
      video.autoplay = true;
      video.playsInline = true;
      video.dataset.url = choice.url;
      video.dataset.quality = choice.quality || '';
      video.onerror = onFailure(choice.url);
      video.onplaying = playing;
      video.src = choice.url;
      content.append(video, connecting);
      watchdog(video, () => video.readyState >= 2);
      const started = video.play();
      if (started && typeof started.catch === 'function') started.catch(() => {});
    } else if (choice.type === 'img') {
      const img = el('img', `media fit-${fitMode}`);
      img.alt = source.title || view.id;
      img.dataset.url = choice.url;
      img.dataset.quality = choice.quality || '';
      img.onerror = onFailure(choice.url);
      img.onload = playing;
      img.src = choice.url;
      content.append(img, connecting);
      watchdog(img, () => img.naturalWidth > 0);
      // A multipart stream may not fire load for its first frame: look for a picture too.
      const poll = setInterval(() => {
        if (!img.isConnected || record.state !== 'connecting') clearInterval(poll);
        else if (img.naturalWidth > 0) { clearInterval(poll); playing(); }
      }, 250);
      view.k.timers.push(setTimeout(() => clearInterval(poll), STREAM_START_MS + 1000));
    } else {
      content.appendChild(keepToFirstPane(view, placeholder(choice.main, choice.detail, choice.reason), width, height));
    }
  }

  // ---------------------------------------------------------------- map tiles

  const UNIT_COLOURS = {
    emergency: '#ff1744',
    busy: '#ff9100', en_route: '#ff9100', on_scene: '#ff6d00',
    available: '#00e676',
    off_duty: '#90a4ae',
  };
  const UNIT_DEFAULT_COLOUR = '#40c4ff';
  const PRIORITY_COLOURS = ['#d50000', '#ff3d00', '#ff9100', '#ffd600', '#64b5f6'];  // priority 1 … 5+

  function priorityColour(priority) {
    const p = Number.isInteger(priority) ? priority : 5;
    return PRIORITY_COLOURS[clamp(p, 1, PRIORITY_COLOURS.length) - 1];
  }

  /** Web Mercator inside the viewport box (the viewport is already widened to the tile's aspect). */
  function projector(viewport, width, height) {
    const west = num(viewport.west, -180), south = num(viewport.south, -85);
    const north = num(viewport.north, 85);
    let east = num(viewport.east, 180);
    const wraps = east < west;            // a viewport across the antimeridian
    if (wraps) east += 360;
    const mercator = (lat) => Math.log(Math.tan(Math.PI / 4 + clamp(lat, -85.05, 85.05) * Math.PI / 360));
    const top = mercator(north), bottom = mercator(south);
    const spanX = east - west || 1e-9, spanY = top - bottom || 1e-9;
    return (lat, lon) => {
      let dx = lon - west;
      if (wraps && dx < 0) dx += 360;
      return [dx / spanX * width, (top - mercator(lat)) / spanY * height];
    };
  }

  function drawMap(view, source, scene, width, height) {
    const k = view.k;
    if (!k.svg) {
      k.svg = svg('svg', { class: 'map' });
      k.incidentLayer = svg('g', { class: 'incidents' });
      k.unitLayer = svg('g', { class: 'units' });
      k.cornerSW = svg('text', { class: 'corner' });
      k.cornerNE = svg('text', { class: 'corner', 'text-anchor': 'end' });
      k.svg.append(k.cornerSW, k.cornerNE, k.incidentLayer, k.unitLayer);
      k.units = new Map();
      k.incidents = new Map();
      view.content.replaceChildren(k.svg);
      view.content.dataset.media = 'map';
      // Under the markers: the command room's tiles or the offline basemap, zones and tracks.
      if (window.HypervisionBasemap) {
        window.HypervisionBasemap.load(token);
        k.basemap = new window.HypervisionBasemap.MapBase(view.content);
      }
    }
    const viewport = isObject(source.viewport) ? source.viewport : {};
    const geoKey = JSON.stringify([width, height]);
    if (k.geoKey !== geoKey) {
      k.geoKey = geoKey;
      k.svg.setAttribute('width', width);
      k.svg.setAttribute('height', height);
      k.svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
      k.cornerSW.setAttribute('x', 3); k.cornerSW.setAttribute('y', height - 3);
      k.cornerNE.setAttribute('x', width - 3); k.cornerNE.setAttribute('y', height - 3);
    }
    if (k.basemap) {
      k.basemap.update(viewport, width, height, scene);
      state.basemaps[view.id] = k.basemap.stats;
    }
    setText(k.cornerSW, `SW ${num(viewport.south).toFixed(4)}, ${num(viewport.west).toFixed(4)}`);
    setText(k.cornerNE, `NE ${num(viewport.north).toFixed(4)}, ${num(viewport.east).toFixed(4)}`);

    const project = projector(viewport, width, height);
    const size = clamp(Math.min(width, height) / 220, 0.7, 1.6);  // marker scale
    // Only what lies in the viewport (half a pixel of slack for rounding at the edges).
    const inside = ([px, py]) => px >= -0.5 && py >= -0.5 && px <= width + 0.5 && py <= height + 0.5;
    const panes = view.panes || [];
    const bands = hasBands(panes);

    reconcile(k.incidents, k.incidentLayer, scene.incidents, (id, incident) => {
      if (!isObject(incident)) return null;
      const point = project(num(incident.lat), num(incident.lon));
      return inside(point) ? point : null;
    }, createIncidentMarker, (node, id, incident, point) => {
      const key = JSON.stringify([incident.priority, incident.status, incident.category, size]);
      if (node.__key !== key) {
        node.__key = key;
        node.setAttribute('class', `incident ${incident.status === 'acknowledged' ? 'acknowledged' : 'open'}`);
        node.dataset.priority = String(incident.priority);
        node.__marker.setAttribute('fill', priorityColour(incident.priority));
        node.__marker.setAttribute('transform', `scale(${size})`);
        setText(node.__label, `P${incident.priority ?? '?'} ${incident.category || id}`);
        node.__labelWidth = null;
      }
      placeMarker(node, point, 9.5 * size, 10 * size, panes, bands, width, height);
    });

    reconcile(k.units, k.unitLayer, scene.units, (id, unit) => {
      if (!isObject(unit)) return null;
      const point = project(num(unit.lat), num(unit.lon));
      return inside(point) ? point : null;
    }, createUnitMarker, (node, id, unit, point) => {
      const status = typeof unit.status === 'string' ? unit.status : 'unknown';
      const hasHeading = typeof unit.heading === 'number' && Number.isFinite(unit.heading);
      const key = JSON.stringify([status, unit.stale === true, unit.callsign, hasHeading, size]);
      if (node.__key !== key) {
        node.__key = key;
        node.setAttribute('class', `unit${unit.stale === true ? ' stale' : ''}`);
        node.dataset.status = status;
        node.dataset.stale = String(unit.stale === true);
        // An arrow when the heading is known, a dot otherwise.
        node.__marker.setAttribute('d', hasHeading ? 'M0,-9L6,7L0,3L-6,7Z' : 'M-5,0a5,5 0 1,0 10,0a5,5 0 1,0 -10,0');
        node.__marker.setAttribute('fill', UNIT_COLOURS[status] || UNIT_DEFAULT_COLOUR);
        setText(node.__label, String(unit.callsign || id));
        node.__labelWidth = null;
      }
      node.dataset.heading = hasHeading ? String(unit.heading) : '';
      node.__rot.setAttribute('transform', `rotate(${hasHeading ? unit.heading : 0}) scale(${size})`);
      // 11: the arrow's box ([-6, 6] x [-9, 7]) turned by any heading reaches 10.82 from its
      // origin, and a marker's drawn box is that turned box, not the arrow itself.
      placeMarker(node, point, 11 * size, 9 * size, panes, bands, width, height);
    });
  }

  /** Puts a marker at `point` (or the nearest place off the bezel bands, marked data-moved) and
      its label to the right of it, else left, below or above, else hides the label: on a map that
      spans displays, nothing drawn may fall where the bezels hide it. */
  function placeMarker(node, [px, py], radius, gap, panes, bands, width, height) {
    node.dataset.x = px.toFixed(1);
    node.dataset.y = py.toFixed(1);
    let x = px, y = py, moved = false;
    if (bands) [x, y, moved] = offBands(panes, px, py, radius);
    if (moved && node.dataset.moved !== 'true') state.bezelMoves++;
    node.dataset.moved = String(moved);
    node.setAttribute('transform', `translate(${x.toFixed(1)} ${y.toFixed(1)})`);
    const label = node.__label;
    let side = 'right';
    if (bands) {
      if (node.__labelWidth == null) {
        try { node.__labelWidth = label.getComputedTextLength(); } catch (_) { node.__labelWidth = 80; }
      }
      // The label's box with a pixel to spare (its text is outlined), baseline 4 px below y.
      const w = node.__labelWidth + 3, h = 14;
      const candidates = {
        right: { x: x + gap - 1, y: y - 7, anchor: 'start', tx: gap, ty: 4 },
        left: { x: x - gap - w + 1, y: y - 7, anchor: 'end', tx: -gap, ty: 4 },
        below: { x: x - w / 2, y: y + radius, anchor: 'middle', tx: 0, ty: radius + 10 },
        above: { x: x - w / 2, y: y - radius - h, anchor: 'middle', tx: 0, ty: -radius - 3 },
      };
      side = Object.keys(candidates).find((name) => boxOnOneDisplay(panes, { ...candidates[name], width: w, height: h }, width, height)) || 'hidden';
      const chosen = candidates[side];
      if (chosen) {
        label.setAttribute('x', chosen.tx);
        label.setAttribute('y', chosen.ty);
        label.setAttribute('text-anchor', chosen.anchor);
      }
    } else {
      label.setAttribute('x', gap);
      label.setAttribute('y', 4);
      label.setAttribute('text-anchor', 'start');
    }
    if (node.dataset.label !== side) {
      if (side !== 'right' && node.dataset.label !== undefined) state.bezelMoves++;
      node.dataset.label = side;
      label.style.display = side === 'hidden' ? 'none' : '';
    }
  }

  /** Keeps one SVG group per id that `where` places, updating kept nodes in place. */
  function reconcile(nodes, layer, items, where, create, update) {
    const seen = new Set();
    for (const [id, item] of Object.entries(isObject(items) ? items : {})) {
      const point = where(id, item);
      if (!point) continue;
      seen.add(id);
      let node = nodes.get(id);
      if (!node) {
        node = create(id);
        nodes.set(id, node);
        layer.appendChild(node);
      }
      update(node, id, item, point);
    }
    for (const [id, node] of nodes) {
      if (!seen.has(id)) { node.remove(); nodes.delete(id); }
    }
  }

  function createUnitMarker(id) {
    const node = svg('g', { class: 'unit' });
    node.dataset.unitId = id;
    node.__rot = svg('g');
    node.__marker = svg('path', { class: 'marker' });
    node.__rot.appendChild(node.__marker);
    node.__label = svg('text', { y: 4 });
    node.append(node.__rot, node.__label);
    return node;
  }

  function createIncidentMarker(id) {
    const node = svg('g', { class: 'incident' });
    node.dataset.incidentId = id;
    node.__marker = svg('path', { class: 'marker', d: 'M0,-8L8,0L0,8L-8,0Z' });
    node.__label = svg('text', { y: 4 });
    node.append(node.__marker, node.__label);
    return node;
  }

  // ---------------------------------------------------------------- incident panel and web tiles

  function ageText(openedAt, now) {
    const opened = Date.parse(openedAt);
    if (!Number.isFinite(opened) || !Number.isFinite(now)) return '';
    const minutes = Math.max(0, Math.floor((now - opened) / 60000));
    return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  function drawIncidentPanel(view, source, scene) {
    const incidents = isObject(scene.incidents) ? scene.incidents : {};
    // The panel's own order (most urgent first); all the scene's incidents by priority otherwise.
    const ids = Array.isArray(source.incidents)
      ? source.incidents.filter((id) => typeof id === 'string')
      : Object.keys(incidents).sort((a, b) => num(incidents[a].priority, 99) - num(incidents[b].priority, 99));
    const now = Date.parse(scene.generatedAt);
    const rows = ids.map((id) => [id, isObject(incidents[id]) ? incidents[id] : null, ageText(incidents[id] && incidents[id].openedAt, now)]);
    const key = JSON.stringify([rows, view.panes]);
    if (view.k.key === key) return;
    view.k.key = key;
    const list = el('ul', 'incident-list');
    if (rows.length === 0) list.appendChild(el('li', 'none', 'no active incidents'));
    for (const [id, incident, age] of rows) {
      const item = el('li', incident ? incident.status || '' : 'missing');
      item.dataset.incidentId = id;
      const prio = el('span', 'prio', incident ? `P${incident.priority ?? '?'}` : 'P?');
      prio.style.background = priorityColour(incident && incident.priority);
      item.append(prio, el('span', 'inc-id', id));
      if (incident) {
        item.append(
          el('span', 'inc-cat', String(incident.category ?? '')),
          el('span', 'inc-state', String(incident.status ?? '')),
          el('span', 'inc-age', age),
          el('span', 'inc-summary', String(incident.summary ?? '')));
      } else {
        item.append(el('span', 'inc-summary', 'details not in the scene'));
      }
      list.appendChild(item);
    }
    view.content.replaceChildren(list);
    view.content.dataset.media = 'incidents';
    keepRowsOffBands(view, list);
  }

  /** On a panel that spans displays, rows keep to the first column of displays and skip the bands
      between rows of displays: a row that would cross one starts on the next display instead. */
  function keepRowsOffBands(view, list) {
    const panes = view.panes || [];
    if (!hasBands(panes)) return;
    list.style.width = `${panes[0].width}px`;
    const column = panes.filter((p) => Math.abs(p.x - panes[0].x) < 0.5);
    for (const item of list.children) {
      const top = item.offsetTop, bottom = top + item.offsetHeight;
      const pane = column.find((p) => bottom > p.y && top < p.y + p.height);
      if (pane && top >= pane.y - 0.01 && bottom <= pane.y + pane.height + 0.01) continue;
      // Crosses a band (or lies in one): start at the next display's top.
      const next = column.find((p) => p.y > top - 0.01 && p.y >= (pane ? pane.y + pane.height : top));
      if (!next) { item.style.visibility = 'hidden'; continue; }
      item.style.marginTop = `${next.y - top + 2}px`;
      state.bezelMoves++;
    }
  }

  function drawWeb(view, source) {
    const url = String(source.url ?? '');
    if (view.k.key === url) return;
    view.k.key = url;
    // Remote pages are not loaded: the preview must not reach out of the command room's network.
    view.content.replaceChildren(placeholder('web page (not loaded in the preview)', url, 'web'));
    view.content.dataset.media = 'web';
  }

  // ---------------------------------------------------------------- start

  window.addEventListener('resize', () => render());
  updateStatus();
  connect();
})();
