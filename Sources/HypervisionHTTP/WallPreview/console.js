// Hypervision operators' console (/console, /console/{wall}).
//
// Pick a wall, see it live (the preview page in an embedded view) with the reason for every tile,
// change a region's preset, pin and unpin cameras, start and stop guard tours, and go back in time
// on the scene log ("what was on the wall at 02:14"). Every action is one call to the daemon's API
// with the operator's token (`?token=` or typed in; kept for the browser session only), so the
// console can do nothing the API does not allow, and the API's answer is shown as it is.
//
// Vanilla ES2020, no dependencies. Scene strings are only written with textContent.
// For tests, window.hypervisionConsole exposes {wall, definition, pins, tours, shownAt, log, ready}.
'use strict';

(() => {
  const PRESETS = ['1x1', '2x2', '3x3', '4x4', '1+5', '1+7', '2+8', '1+12'];
  const params = new URLSearchParams(location.search);
  const $ = (id) => document.getElementById(id);
  const state = { wall: null, definition: null, origin: null, pins: [], tours: [], shownAt: null, log: [], ready: false, cameras: [] };
  window.hypervisionConsole = state;

  // ------------------------------------------------------------ token, operator

  const tokenInput = $('token');
  const operatorInput = $('operator');
  tokenInput.value = params.get('token') || sessionStorage.getItem('hv-token') || '';
  operatorInput.value = localStorage.getItem('hv-operator') || '';
  tokenInput.addEventListener('change', () => { sessionStorage.setItem('hv-token', tokenInput.value); start(); });
  operatorInput.addEventListener('change', () => localStorage.setItem('hv-operator', operatorInput.value.trim()));
  const token = () => tokenInput.value.trim();

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** One API call; resolves to {status, json} whatever the status (the caller decides). */
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch (e) {
      return { status: 0, json: { error: { code: 'unreachable', message: `the daemon does not answer: ${e.message}` } } };
    }
    let json = null;
    try { json = await response.json(); } catch (_) { /* 204 and friends */ }
    return { status: response.status, json };
  }

  const problem = (answer) => (answer.json && answer.json.error
    ? `${answer.json.error.code}: ${answer.json.error.message}` : `HTTP ${answer.status}`);

  /** Logs an action and its outcome in the Activity list (newest first). */
  function note(text, ok) {
    const time = new Date().toLocaleTimeString();
    state.log.unshift({ time, text, ok });
    const item = el('li', ok ? 'ok' : 'bad', `${time} ${text}`);
    $('log').prepend(item);
    while ($('log').children.length > 50) $('log').lastChild.remove();
  }

  // ------------------------------------------------------------ walls

  const wallSelect = $('wall');
  wallSelect.addEventListener('change', () => selectWall(wallSelect.value));

  async function start() {
    state.ready = false;
    const answer = await api('GET', '/api/v1/walls');
    if (answer.status !== 200) {
      note(`cannot list the walls: ${problem(answer)}`, false);
      $('who').textContent = answer.status === 401 || answer.status === 403 ? 'a token with query (and admin to act) is needed' : '';
      return;
    }
    const walls = answer.json.walls || [];
    wallSelect.replaceChildren(...walls.map((w) => {
      const option = el('option', '', w.title ? `${w.title} (${w.id})` : w.id);
      option.value = w.id;
      return option;
    }));
    const fromPath = /\/console\/([^/]+)\/?$/.exec(location.pathname);
    const wanted = fromPath ? decodeURIComponent(fromPath[1]) : (walls[0] && walls[0].id);
    if (wanted) await selectWall(wanted);
    loadCameras();
  }

  async function selectWall(id) {
    state.wall = id;
    wallSelect.value = id;
    history.replaceState(null, '', `/console/${encodeURIComponent(id)}${location.search}`);
    const view = $('view');
    const query = new URLSearchParams({ embed: '1' });
    if (token()) query.set('token', token());
    view.src = `/walls/${encodeURIComponent(id)}?${query}`;
    backToLive();
    await Promise.all([loadDefinition(), loadPins()]);
    loadTours();
    state.ready = true;
  }

  // ------------------------------------------------------------ the view and the reasons

  const viewWindow = () => { try { return $('view').contentWindow; } catch (_) { return null; } };
  const wallState = () => { const w = viewWindow(); return w && w.hypervision; };
  let tableKey = '';
  let selectedTile = null;

  function shownScene() {
    const hv = wallState();
    return hv ? (hv.shown || hv.scene) : null;
  }

  function drawTiles() {
    const scene = shownScene();
    if (!scene || typeof scene.tiles !== 'object') return;
    const rows = Object.entries(scene.tiles).map(([id, tile]) => {
      const source = tile.source || {};
      return [id, Object.keys(tile.displays || {}).join(' '), source.title || source.id || '', source.status || '', tile.reason || '', tile.region || '', source.kind];
    }).sort((a, b) => (a[5] + a[0] < b[5] + b[0] ? -1 : 1));
    const key = JSON.stringify([rows, selectedTile]);
    if (key === tableKey) return;
    tableKey = key;
    $('tiles').tBodies[0].replaceChildren(...rows.map(([id, displays, title, status, reason, , kind]) => {
      const row = el('tr', selectedTile === id ? 'selected' : '');
      row.dataset.tileId = id;
      row.append(el('td', '', id), el('td', '', displays), el('td', '', title), el('td', `status-${status}`, status), el('td', 'why', reason));
      row.addEventListener('click', () => {
        selectedTile = selectedTile === id ? null : id;
        const hv = wallState();
        if (hv) hv.highlight(selectedTile);
        if (kind === 'camera' && selectedTile) $('pin-camera').value = id;
        tableKey = '';
        drawTiles();
      });
      return row;
    }));
  }
  setInterval(drawTiles, 500);

  // ------------------------------------------------------------ the scene log

  const scrub = $('scrub');
  const label = $('timeline-label');
  let scrubTimer = null;

  function backToLive() {
    state.shownAt = null;
    scrub.value = '0';
    $('live').setAttribute('aria-pressed', 'true');
    label.textContent = 'live';
    label.classList.remove('past');
    const hv = wallState();
    if (hv) hv.showScene(null);
    tableKey = '';
  }

  async function showAt(date) {
    const at = date.toISOString();
    const answer = await api('GET', `/api/v1/walls/${encodeURIComponent(state.wall)}/scene?at=${encodeURIComponent(at)}`);
    if (answer.status !== 200) {
      note(`scene log at ${date.toLocaleTimeString()}: ${problem(answer)}`, false);
      label.textContent = `nothing logged at ${date.toLocaleString()}`;
      return;
    }
    const hv = wallState();
    if (hv) hv.showScene(answer.json);
    state.shownAt = at;
    state.shownSeq = answer.json.seq;
    $('live').setAttribute('aria-pressed', 'false');
    label.textContent = `the wall at ${date.toLocaleString()} (seq ${answer.json.seq})`;
    label.classList.add('past');
    tableKey = '';
    drawTiles();
  }

  scrub.addEventListener('input', () => {
    const seconds = Number(scrub.value);
    if (seconds >= 0) { backToLive(); return; }
    const date = new Date(Date.now() + seconds * 1000);
    label.textContent = `${date.toLocaleTimeString()}…`;
    clearTimeout(scrubTimer);
    scrubTimer = setTimeout(() => showAt(date), 250);
  });
  $('live').addEventListener('click', backToLive);
  $('show-at').addEventListener('click', () => {
    const value = $('at').value;
    if (!value) return;
    const date = new Date(value);  // local time, as the operator reads the room's clock
    if (Number.isNaN(date.getTime())) return;
    showAt(date);
  });
  state.showAt = (iso) => showAt(new Date(iso));
  state.backToLive = backToLive;

  // ------------------------------------------------------------ presets

  async function loadDefinition() {
    const answer = await api('GET', `/api/v1/walls/${encodeURIComponent(state.wall)}`);
    if (answer.status !== 200) { note(`cannot read wall ${state.wall}: ${problem(answer)}`, false); return; }
    state.definition = answer.json.definition;
    state.origin = answer.json.origin;
    const regions = (state.definition.regions || []);
    const cameraRegions = regions.filter((r) => r.kind === 'cameras' || r.kind === 'preset');
    const options = (list, withAny) => [
      ...(withAny ? [Object.assign(el('option', '', 'any'), { value: '' })] : []),
      ...list.map((r) => Object.assign(el('option', '', `${r.id} (${r.kind})`), { value: r.id })),
    ];
    const region = $('region');
    const previous = region.value;
    region.replaceChildren(...options(cameraRegions, false));
    if (cameraRegions.some((r) => r.id === previous)) region.value = previous;
    $('pin-region').replaceChildren(...options(cameraRegions.filter((r) => r.kind === 'cameras'), true));
    $('tour-region').replaceChildren(...options(cameraRegions.filter((r) => r.kind === 'cameras'), true));
    showPreset();
    const fromFile = String(state.origin || '').startsWith('file:');
    $('apply-preset').disabled = fromFile || cameraRegions.length === 0;
    $('preset-note').classList.toggle('bad', fromFile);
    $('preset-note').textContent = fromFile
      ? `defined by ${String(state.origin).slice(5)}: change the preset in that file, then reload the daemon (SIGHUP)`
      : cameraRegions.length === 0 ? 'this wall has no camera region' : 'changes the wall definition (PUT, admin): kept in PostGIS';
  }

  function showPreset() {
    const region = (state.definition && state.definition.regions || []).find((r) => r.id === $('region').value);
    const current = region && (typeof region.preset === 'string' ? region.preset : 'custom');
    $('preset').replaceChildren(...PRESETS.concat(current && !PRESETS.includes(current) ? [current] : [])
      .map((p) => Object.assign(el('option', '', p === current ? `${p} (now)` : p), { value: p })));
    if (current) $('preset').value = current;
  }
  $('region').addEventListener('change', showPreset);

  async function applyPreset() {
    const regionId = $('region').value, preset = $('preset').value;
    if (!state.definition || !regionId || preset === 'custom') return;
    const definition = JSON.parse(JSON.stringify(state.definition));
    const region = definition.regions.find((r) => r.id === regionId);
    region.preset = preset;
    const answer = await api('PUT', `/api/v1/walls/${encodeURIComponent(state.wall)}`, definition);
    if (answer.status === 200 || answer.status === 201) {
      note(`region ${regionId} now shows preset ${preset}`, true);
    } else {
      const problems = answer.json && answer.json.error && answer.json.error.problems;
      note(`preset ${preset} on ${regionId} refused: ${problem(answer)}${problems ? ' — ' + problems.map((p) => p.message).join('; ') : ''}`, false);
    }
    await loadDefinition();
  }
  $('apply-preset').addEventListener('click', applyPreset);

  // ------------------------------------------------------------ cameras and pins

  async function loadCameras() {
    const answer = await api('GET', '/api/v1/cameras');
    if (answer.status !== 200) return;
    state.cameras = (answer.json.features || []).map((f) => ({ id: f.id || (f.properties || {}).id, name: (f.properties || {}).name || '' }));
    $('cameras').replaceChildren(...state.cameras.map((c) => Object.assign(el('option', '', c.name), { value: c.id })));
  }

  async function loadPins() {
    const answer = await api('GET', `/api/v1/walls/${encodeURIComponent(state.wall)}/pins`);
    if (answer.status !== 200) { state.pins = []; drawPins(); return; }
    state.pins = answer.json.pins || [];
    drawPins();
  }

  function drawPins() {
    const list = $('pins');
    if (state.pins.length === 0) { list.replaceChildren(el('li', 'note', 'no camera pinned')); return; }
    list.replaceChildren(...state.pins.map((pin) => {
      const item = el('li');
      item.dataset.camera = pin.camera;
      const until = pin.expiresAt ? `until ${new Date(pin.expiresAt).toLocaleTimeString()}` : 'until unpinned';
      item.append(el('span', '', `${pin.camera}${pin.region ? ' in ' + pin.region : ''} — ${until}${pin.by ? ', by ' + pin.by : ''}`));
      const button = el('button', '', 'Unpin');
      button.type = 'button';
      button.addEventListener('click', () => unpin(pin.camera));
      item.appendChild(button);
      return item;
    }));
  }

  async function pin() {
    const camera = $('pin-camera').value.trim();
    if (!camera) return;
    const body = { camera };
    if ($('pin-region').value) body.region = $('pin-region').value;
    if ($('pin-for').value) body.expiresIn = Number($('pin-for').value);
    if (operatorInput.value.trim()) body.by = operatorInput.value.trim();
    const answer = await api('POST', `/api/v1/walls/${encodeURIComponent(state.wall)}/pins`, body);
    if (answer.status === 201) {
      note(`pinned ${camera}`, true);
      state.pins = answer.json.pins || [];
      drawPins();
    } else {
      note(`pin ${camera} refused: ${problem(answer)}`, false);
    }
  }

  async function unpin(camera) {
    const answer = await api('DELETE', `/api/v1/walls/${encodeURIComponent(state.wall)}/pins/${encodeURIComponent(camera)}`);
    note(answer.status === 204 ? `unpinned ${camera}` : `unpin ${camera}: ${problem(answer)}`, answer.status === 204);
    await loadPins();
  }
  $('pin').addEventListener('click', pin);
  state.pin = (camera) => { $('pin-camera').value = camera; return pin(); };
  state.unpin = unpin;

  // ------------------------------------------------------------ guard tours

  // The API has no list of tours: the console shows those it started (kept in this browser).
  const toursKey = () => `hv-tours-${state.wall}`;

  function loadTours() {
    try { state.tours = JSON.parse(localStorage.getItem(toursKey()) || '[]'); } catch (_) { state.tours = []; }
    drawTours();
  }

  function saveTours() { localStorage.setItem(toursKey(), JSON.stringify(state.tours)); drawTours(); }

  function drawTours() {
    const list = $('tours');
    if (state.tours.length === 0) { list.replaceChildren(el('li', 'note', 'no tour started from this console')); return; }
    list.replaceChildren(...state.tours.map((tour) => {
      const item = el('li');
      item.dataset.tour = tour.id;
      item.append(el('span', '', `${tour.id}: ${tour.cameras.length} cameras, ${tour.dwellSeconds} s each${tour.region ? ' in ' + tour.region : ''}`));
      const button = el('button', '', 'Stop');
      button.type = 'button';
      button.addEventListener('click', () => stopTour(tour.id));
      item.appendChild(button);
      return item;
    }));
  }

  $('tour-fill').addEventListener('click', () => {
    const scene = shownScene();
    if (!scene) return;
    const cameras = Object.values(scene.tiles || {}).filter((t) => t.source && t.source.kind === 'camera').map((t) => t.source.id);
    $('tour-cameras').value = [...new Set(cameras)].sort().join(', ');
  });

  async function startTour() {
    const id = $('tour-id').value.trim();
    const cameras = $('tour-cameras').value.split(/[\s,]+/).map((c) => c.trim()).filter(Boolean);
    const dwellSeconds = Number($('tour-dwell').value) || 10;
    if (!id || cameras.length === 0) { note('a tour needs a name and cameras', false); return; }
    const body = { id, cameras, dwellSeconds };
    if ($('tour-region').value) body.region = $('tour-region').value;
    const answer = await api('POST', `/api/v1/walls/${encodeURIComponent(state.wall)}/tours`, body);
    if (answer.status === 201) {
      note(`tour ${id} started: ${cameras.length} cameras, ${dwellSeconds} s each`, true);
      state.tours = state.tours.filter((t) => t.id !== id).concat([body]);
      saveTours();
    } else {
      note(`tour ${id} refused: ${problem(answer)}`, false);
    }
  }

  async function stopTour(id) {
    const answer = await api('DELETE', `/api/v1/walls/${encodeURIComponent(state.wall)}/tours/${encodeURIComponent(id)}`);
    const ok = answer.status === 204;
    note(ok ? `tour ${id} stopped` : `stop tour ${id}: ${problem(answer)}`, ok);
    if (ok || answer.status === 404) { state.tours = state.tours.filter((t) => t.id !== id); saveTours(); }
  }
  $('tour-start').addEventListener('click', startTour);
  state.startTour = (id, cameras, dwell) => {
    $('tour-id').value = id; $('tour-cameras').value = cameras.join(', '); $('tour-dwell').value = String(dwell);
    return startTour();
  };
  state.stopTour = stopTour;
  state.applyPreset = (region, preset) => {
    $('region').value = region; showPreset(); $('preset').value = preset;
    return applyPreset();
  };

  start();
})();
