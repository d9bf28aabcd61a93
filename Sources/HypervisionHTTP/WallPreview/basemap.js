// Hypervision basemap: what map tiles draw under their unit and incident markers.
//
// Layers, bottom to top:
//   1. raster tiles from the command room's own tile server, when `basemap.tiles.url` is set
//      (XYZ, TMS or WMTS in Web Mercator; the only requests that may leave the machine);
//   2. the offline vector basemap the daemon serves (/basemap/offline.json: GSHHG land, lakes,
//      rivers and borders, TopoJSON), drawn on a canvas: it works with no network at all, and
//      shows through wherever a raster tile fails to load;
//   3. overlays the daemon registers (the demo city's streets);
//   4. the zone hex grid (GET /api/v1/zones/stats) and the recent tracks of units in emergency or
//      on a call (GET /api/v1/units/{id}/track), both with the page's token (`query` scope);
//      without that scope these two layers are simply left out.
//
// The projection is wall.js's: x linear in longitude, y in Web Mercator, inside the tile's
// viewport, so raster tiles, vectors and markers line up. Vanilla ES2020, no dependencies.
'use strict';

window.HypervisionBasemap = (() => {
  const ZONE_REFRESH_MS = 60000;
  const ZONE_MIN_INTERVAL_MS = 10000;
  const TRACK_REFRESH_MS = 20000;
  const MAX_TRACKS = 12;
  const MAX_RASTER_TILES = 400;

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const num = (v, fallback = 0) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  const mercator = (lat) => Math.log(Math.tan(Math.PI / 4 + clamp(lat, -85.05, 85.05) * Math.PI / 360));

  // Shared by every map of the page: loaded once.
  const shared = {
    token: undefined,
    config: null,
    offline: null,          // {land, water, rivers, borders}: arrays of {bbox, points: Float64Array lon,lat…}
    overlays: [],           // [{id, title, lines, polygons}]
    loading: null,
    listeners: new Set(),
    stats: { configLoaded: false, offlineLoaded: false, offlineError: null, overlays: 0, tilesConfigured: false, draws: 0 },
  };

  function headers() {
    return shared.token ? { Authorization: `Bearer ${shared.token}` } : {};
  }

  async function fetchJSON(url) {
    const response = await fetch(url, { headers: headers(), cache: 'no-cache' });
    if (!response.ok) {
      const error = new Error(`${url}: HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  // ---------------------------------------------------------------- decoding

  function boundsOf(points) {
    let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
    for (let i = 0; i < points.length; i += 2) {
      const x = points[i], y = points[i + 1];
      if (x < w) w = x; if (x > e) e = x;
      if (y < s) s = y; if (y > n) n = y;
    }
    return [w, s, e, n];
  }

  function shape(coordinates) {
    const points = new Float64Array(coordinates.length * 2);
    coordinates.forEach((c, i) => { points[2 * i] = num(c[0]); points[2 * i + 1] = num(c[1]); });
    return { points, bbox: boundsOf(points) };
  }

  /** TopoJSON (quantised, delta-encoded arcs; one object per layer) to layers of shapes. */
  function decodeTopology(topology) {
    const [sx, sy] = topology.transform ? topology.transform.scale : [1, 1];
    const [tx, ty] = topology.transform ? topology.transform.translate : [0, 0];
    const arcs = topology.arcs.map((arc) => {
      const points = new Float64Array(arc.length * 2);
      let x = 0, y = 0;
      arc.forEach(([dx, dy], i) => {
        if (topology.transform) { x += dx; y += dy; } else { x = dx; y = dy; }
        points[2 * i] = x * sx + tx;
        points[2 * i + 1] = y * sy + ty;
      });
      return points;
    });
    const arcPoints = (index) => {
      if (index >= 0) return arcs[index];
      const reversed = arcs[~index].slice();
      for (let i = 0, j = reversed.length - 2; i < j; i += 2, j -= 2) {
        [reversed[i], reversed[j]] = [reversed[j], reversed[i]];
        [reversed[i + 1], reversed[j + 1]] = [reversed[j + 1], reversed[i + 1]];
      }
      return reversed;
    };
    const join = (indexes) => {
      const parts = indexes.map(arcPoints);
      const total = parts.reduce((sum, p) => sum + p.length, 0);
      const points = new Float64Array(total);
      let at = 0;
      for (const p of parts) { points.set(p, at); at += p.length; }
      return { points, bbox: boundsOf(points) };
    };
    const layers = {};
    const collect = (name, geometry) => {
      if (!isObject(geometry)) return;
      const list = layers[name] || (layers[name] = []);
      switch (geometry.type) {
        case 'GeometryCollection': (geometry.geometries || []).forEach((g) => collect(name, g)); break;
        case 'LineString': list.push(join(geometry.arcs)); break;
        case 'MultiLineString': case 'Polygon': geometry.arcs.forEach((line) => list.push(join(line))); break;
        case 'MultiPolygon': geometry.arcs.forEach((polygon) => polygon.forEach((ring) => list.push(join(ring)))); break;
        default: break;
      }
    };
    for (const [name, object] of Object.entries(topology.objects || {})) collect(name, object);
    return layers;
  }

  /** GeoJSON (a FeatureCollection, a Feature or a geometry) to {lines, polygons}, by properties.layer when given. */
  function decodeGeoJSON(document) {
    const layers = {};
    const add = (name, geometry) => {
      if (!isObject(geometry)) return;
      const list = (kind) => (layers[`${name}:${kind}`] || (layers[`${name}:${kind}`] = []));
      const c = geometry.coordinates;
      switch (geometry.type) {
        case 'LineString': list('lines').push(shape(c)); break;
        case 'MultiLineString': c.forEach((l) => list('lines').push(shape(l))); break;
        case 'Polygon': c.forEach((r) => list('polygons').push(shape(r))); break;
        case 'MultiPolygon': c.forEach((p) => p.forEach((r) => list('polygons').push(shape(r)))); break;
        case 'GeometryCollection': (geometry.geometries || []).forEach((g) => add(name, g)); break;
        default: break;
      }
    };
    const features = document.type === 'FeatureCollection' ? document.features : document.type === 'Feature' ? [document] : [{ geometry: document }];
    for (const feature of features || []) {
      if (!isObject(feature)) continue;
      const props = isObject(feature.properties) ? feature.properties : {};
      add(typeof props.layer === 'string' ? props.layer : (typeof props.kind === 'string' ? props.kind : 'default'), feature.geometry);
    }
    return layers;
  }

  // ---------------------------------------------------------------- loading

  function load(token) {
    if (token) shared.token = token;
    if (shared.loading) return shared.loading;
    shared.loading = (async () => {
      try {
        shared.config = await fetchJSON('/basemap/config.json');
        shared.stats.configLoaded = true;
      } catch (e) {
        shared.stats.offlineError = `config: ${e.message}`;
        shared.config = { tiles: null, offline: { url: null }, overlays: [] };
      }
      shared.stats.tilesConfigured = !!(shared.config.tiles && shared.config.tiles.url);
      notify();
      const jobs = [];
      if (shared.config.offline && shared.config.offline.url) {
        jobs.push(fetchJSON(shared.config.offline.url).then((document) => {
          shared.offline = document.type === 'Topology' ? decodeTopology(document) : flattenGeoJSONLayers(decodeGeoJSON(document));
          shared.stats.offlineLoaded = true;
        }).catch((e) => { shared.stats.offlineError = e.message; }));
      } else {
        shared.stats.offlineError = 'no offline basemap configured (basemap.offline.file)';
      }
      for (const overlay of Array.isArray(shared.config.overlays) ? shared.config.overlays : []) {
        if (!isObject(overlay) || typeof overlay.url !== 'string') continue;
        jobs.push(fetchJSON(overlay.url).then((document) => {
          shared.overlays.push({ id: String(overlay.id), title: String(overlay.title || overlay.id), layers: decodeGeoJSON(document) });
          shared.stats.overlays = shared.overlays.length;
        }).catch(() => {}));
      }
      // Draw as each arrives: the overlays are small, the offline basemap a few MB.
      jobs.forEach((job) => job.then(notify));
      await Promise.all(jobs);
      notify();
    })();
    return shared.loading;
  }

  function flattenGeoJSONLayers(layers) {
    const out = {};
    for (const [key, shapes] of Object.entries(layers)) {
      const name = key.split(':')[0];
      (out[name] || (out[name] = [])).push(...shapes);
    }
    return out;
  }

  function notify() { for (const listener of shared.listeners) listener(); }

  // ---------------------------------------------------------------- one map

  /** A basemap inside `container` (positioned by the caller), under the map's SVG. */
  class MapBase {
    constructor(container) {
      this.root = document.createElement('div');
      this.root.className = 'basemap';
      this.raster = document.createElement('div');
      this.raster.className = 'basemap-raster';
      // The offline basemap under the raster tiles (it shows where a tile fails), the rest above.
      this.under = document.createElement('canvas');
      this.under.className = 'basemap-vector basemap-offline';
      this.canvas = document.createElement('canvas');
      this.canvas.className = 'basemap-vector basemap-layers';
      this.attribution = document.createElement('div');
      this.attribution.className = 'basemap-attribution';
      this.root.append(this.under, this.raster, this.canvas, this.attribution);
      container.prepend(this.root);
      this.view = null;
      this.key = null;
      this.tiles = new Map();
      this.zones = { cells: [], fetchedAt: 0, box: null, size: 0, pending: false, error: null, disabled: false };
      this.tracks = { lines: new Map(), fetchedAt: new Map(), pending: 0, error: null, disabled: false };
      this.stats = { features: {}, rasterTiles: 0, zoneCells: 0, tracks: 0, zoom: null };
      this.listener = () => { this.key = null; this.draw(); };
      shared.listeners.add(this.listener);
    }

    destroy() {
      shared.listeners.delete(this.listener);
      this.root.remove();
    }

    /** Called on every render of the map tile; redraws only when the picture would change. */
    update(viewport, width, height, scene) {
      this.view = { viewport, width, height };
      this.scene = scene;
      this.refreshZones();
      this.refreshTracks();
      this.draw();
    }

    projector() {
      const { viewport, width, height } = this.view;
      const west = num(viewport.west, -180), north = num(viewport.north, 85), south = num(viewport.south, -85);
      let east = num(viewport.east, 180);
      const wraps = east < west;
      if (wraps) east += 360;
      const top = mercator(north), bottom = mercator(south);
      const kx = width / (east - west || 1e-9), ky = height / (top - bottom || 1e-9);
      const project = (lat, lon) => {
        let dx = lon - west;
        if (wraps && dx < 0) dx += 360;
        return [dx * kx, (top - mercator(lat)) * ky];
      };
      return { project, west, east, north, south, kx, ky, top };
    }

    draw() {
      if (!this.view) return;
      const { viewport, width, height } = this.view;
      const key = JSON.stringify([viewport.west, viewport.south, viewport.east, viewport.north, width, height,
        this.zones.fetchedAt, this.tracks.version || 0]);
      if (key === this.key) return;
      this.key = key;
      shared.stats.draws++;
      const p = this.projector();
      this.drawRaster(p);
      this.drawVectors(p);
    }

    // ------------------------------------------------------------ raster tiles

    drawRaster(p) {
      const tiles = shared.config && shared.config.tiles;
      if (!tiles || !tiles.url) { this.raster.replaceChildren(); this.stats.rasterTiles = 0; return; }
      const { width, height } = this.view;
      const size = num(tiles.tileSize, 256);
      // The zoom whose tiles are drawn at 1x to 2x their size: sharp, and few of them.
      const lonSpan = (p.east - p.west) || 1e-9;
      let zoom = Math.ceil(Math.log2(width * 360 / (lonSpan * size)));
      zoom = clamp(zoom, num(tiles.minZoom, 0), num(tiles.maxZoom, 19));
      const n = 2 ** zoom;
      const tileX = (lon) => (lon + 180) / 360 * n;
      const tileY = (lat) => (1 - mercator(lat) / Math.PI) / 2 * n;
      const lonOf = (x) => x / n * 360 - 180;
      const latOf = (y) => Math.atan(Math.sinh(Math.PI * (1 - 2 * y / n))) * 180 / Math.PI;
      const x0 = Math.floor(tileX(p.west)), x1 = Math.floor(tileX(p.east));
      const y0 = Math.max(0, Math.floor(tileY(p.north))), y1 = Math.min(n - 1, Math.floor(tileY(p.south)));
      const wanted = new Map();
      for (let ty = y0; ty <= y1; ty++) {
        for (let tx = x0; tx <= x1; tx++) {
          if (wanted.size >= MAX_RASTER_TILES) break;
          const wrapped = ((tx % n) + n) % n;
          const [left, top] = p.project(latOf(ty), lonOf(tx));
          const [right, bottom] = p.project(latOf(ty + 1), lonOf(tx + 1));
          wanted.set(`${zoom}/${wrapped}/${ty}`, { url: this.tileURL(tiles, zoom, wrapped, ty), left, top, right, bottom });
        }
      }
      for (const [id, img] of this.tiles) {
        if (!wanted.has(id)) { img.removeAttribute('src'); img.remove(); this.tiles.delete(id); }
      }
      for (const [id, t] of wanted) {
        let img = this.tiles.get(id);
        if (!img) {
          img = document.createElement('img');
          img.className = 'basemap-tile';
          img.alt = '';
          img.decoding = 'async';
          img.referrerPolicy = 'no-referrer';
          // A tile that fails leaves the offline basemap visible beneath.
          img.onerror = () => { img.style.visibility = 'hidden'; };
          img.src = t.url;
          this.tiles.set(id, img);
          this.raster.appendChild(img);
        }
        img.style.left = `${t.left}px`;
        img.style.top = `${t.top}px`;
        img.style.width = `${t.right - t.left + 0.5}px`;
        img.style.height = `${t.bottom - t.top + 0.5}px`;
      }
      this.stats.rasterTiles = this.tiles.size;
      this.stats.zoom = zoom;
      const text = String(tiles.attribution || '');
      if (this.attribution.textContent !== text) this.attribution.textContent = text;
    }

    tileURL(tiles, z, x, y) {
      const subdomains = Array.isArray(tiles.subdomains) ? tiles.subdomains : [];
      const s = subdomains.length ? subdomains[(x + y) % subdomains.length] : '';
      const matrix = `${tiles.tileMatrixPrefix || ''}${z}`;
      return tiles.url
        .replaceAll('{z}', z).replaceAll('{x}', x).replaceAll('{y}', y).replaceAll('{-y}', 2 ** z - 1 - y)
        .replaceAll('{TileMatrix}', matrix).replaceAll('{TileRow}', y).replaceAll('{TileCol}', x)
        .replaceAll('{s}', s);
    }

    // ------------------------------------------------------------ vectors

    context(canvas) {
      const { width, height } = this.view;
      const ratio = window.devicePixelRatio || 1;
      const cw = Math.max(1, Math.round(width * ratio)), ch = Math.max(1, Math.round(height * ratio));
      if (canvas.width !== cw || canvas.height !== ch) {
        canvas.width = cw;
        canvas.height = ch;
      }
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
      const g = canvas.getContext('2d');
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.clearRect(0, 0, width, height);
      return g;
    }

    drawVectors(p) {
      const { width, height } = this.view;
      let g = this.context(this.under);
      const raster = !!(shared.config && shared.config.tiles && shared.config.tiles.url);
      const counts = {};
      // The view in degrees, with a margin, to cull shapes by their bounding box.
      const margin = Math.abs(p.east - p.west) * 0.05;
      const view = [p.west - margin, p.south - margin, p.east + margin, p.north + margin];
      const visible = (b) => b[0] <= view[2] && b[2] >= view[0] && b[1] <= view[3] && b[3] >= view[1];
      const pathOf = (points) => {
        g.beginPath();
        for (let i = 0; i < points.length; i += 2) {
          const [x, y] = p.project(points[i + 1], points[i]);
          if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
        }
      };
      const fill = (name, shapes, colour) => {
        let drawn = 0;
        g.fillStyle = colour;
        for (const s of shapes || []) if (visible(s.bbox)) { pathOf(s.points); g.fill(); drawn++; }
        counts[name] = (counts[name] || 0) + drawn;
      };
      const stroke = (name, shapes, colour, lineWidth, dash) => {
        let drawn = 0;
        g.strokeStyle = colour;
        g.lineWidth = lineWidth;
        g.setLineDash(dash || []);
        for (const s of shapes || []) if (visible(s.bbox)) { pathOf(s.points); g.stroke(); drawn++; }
        g.setLineDash([]);
        counts[name] = (counts[name] || 0) + drawn;
      };
      const world = shared.offline;
      if (world) {
        // Night palette: dark water, slightly lighter land, muted lines; the markers stay the brightest.
        g.fillStyle = '#0a2233';
        g.fillRect(0, 0, width, height);
        fill('land', world.land, '#1f2a33');
        fill('water', world.water, '#0a2233');
        stroke('coast', world.land, '#31526b', 1);
        stroke('rivers', world.rivers, '#1d5a85', 1.5);
        stroke('borders', world.borders, '#7d8a99', 1.2, [6, 4]);
      }
      g = this.context(this.canvas);
      for (const overlay of shared.overlays) {
        for (const [key, shapes] of Object.entries(overlay.layers)) {
          const [kind, type] = key.split(':');
          if (type === 'polygons') { fill(`overlay:${kind}`, shapes, 'rgba(120,140,160,0.12)'); continue; }
          const wide = { ring: 3, boulevard: 2.4, avenue: 2, bridge: 2.4 }[kind] || 1.2;
          stroke(`overlay:${kind}`, shapes, kind === 'street' ? '#2a3744' : '#364757', wide * clamp(width / 900, 0.6, 1.5));
        }
      }
      this.drawZones(g, p, counts);
      this.drawTracks(g, p, counts);
      if (!world && !raster && shared.overlays.length === 0) {
        // Nothing to draw from: a faint grid keeps motion and distances readable.
        g.strokeStyle = '#1d3a4d';
        g.lineWidth = 1;
        for (let i = 1; i < 8; i++) { g.beginPath(); g.moveTo(width * i / 8, 0); g.lineTo(width * i / 8, height); g.stroke(); }
        for (let i = 1; i < 6; i++) { g.beginPath(); g.moveTo(0, height * i / 6); g.lineTo(width, height * i / 6); g.stroke(); }
      }
      this.stats.features = counts;
    }

    // ------------------------------------------------------------ zone hex grid

    refreshZones() {
      const z = this.zones;
      const layer = shared.config && shared.config.zones ? shared.config.zones.layer : 'incidents';
      if (z.disabled || z.pending || !shared.config || layer === 'none') return;
      const p = this.projector();
      const now = Date.now();
      const spanMetres = Math.abs(p.north - p.south) * 111320;
      const size = clamp(Math.round(spanMetres / 24 / 50) * 50, 100, 20000);
      const inside = z.box && p.west >= z.box[0] && p.south >= z.box[1] && p.east <= z.box[2] && p.north <= z.box[3];
      // Sooner while the grid is empty: the first incidents of a shift should show quickly.
      const fresh = now - z.fetchedAt < (z.cells.length ? ZONE_REFRESH_MS : ZONE_MIN_INTERVAL_MS * 1.5);
      if (inside && fresh && z.size === size) return;
      if (now - (z.triedAt || 0) < ZONE_MIN_INTERVAL_MS) return;
      z.triedAt = now;
      // Twice the view, so that a map fitting itself to incidents does not refetch at every step.
      const w = (p.east - p.west) / 2, h = (p.north - p.south) / 2;
      const box = [p.west - w, Math.max(-85, p.south - h), p.east + w, Math.min(85, p.north + h)].map((v) => Number(v.toFixed(5)));
      const days = num(shared.config.zones && shared.config.zones.days, 7);
      const from = new Date(now - days * 86400000).toISOString();
      z.pending = true;
      fetchJSON(`/api/v1/zones/stats?cell=hex&layer=${encodeURIComponent(layer)}&size=${size}&bbox=${box.join(',')}&from=${from}`)
        .then((collection) => {
          z.cells = (collection.features || []).filter((f) => isObject(f) && isObject(f.geometry) && f.geometry.type === 'Polygon')
            .map((f) => ({ ring: shape(f.geometry.coordinates[0]), count: num(f.properties && f.properties.count) }));
          z.box = box; z.size = size; z.fetchedAt = Date.now(); z.error = null;
        })
        .catch((e) => {
          z.error = e.message;
          // Without the query scope (a renderer's token) the layer is simply not drawn.
          if (e.status === 401 || e.status === 403 || e.status === 404) z.disabled = true;
        })
        .finally(() => { z.pending = false; this.key = null; this.draw(); });
    }

    drawZones(g, p, counts) {
      const cells = this.zones.cells;
      if (!cells.length) { this.stats.zoneCells = 0; return; }
      const most = Math.max(1, ...cells.map((c) => c.count));
      let drawn = 0;
      for (const cell of cells) {
        const pts = cell.ring.points;
        g.beginPath();
        for (let i = 0; i < pts.length; i += 2) {
          const [x, y] = p.project(pts[i + 1], pts[i]);
          if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
        }
        g.closePath();
        g.fillStyle = `rgba(255, 145, 0, ${(0.06 + 0.3 * cell.count / most).toFixed(3)})`;
        g.fill();
        g.strokeStyle = 'rgba(255, 171, 64, 0.35)';
        g.lineWidth = 1;
        g.stroke();
        drawn++;
      }
      counts.zones = drawn;
      this.stats.zoneCells = drawn;
    }

    // ------------------------------------------------------------ unit tracks

    refreshTracks() {
      const t = this.tracks;
      const minutes = shared.config && shared.config.tracks ? num(shared.config.tracks.minutes, 10) : 10;
      if (t.disabled || t.pending > 0 || !shared.config || minutes <= 0 || !this.scene) return;
      const units = isObject(this.scene.units) ? this.scene.units : {};
      const p = this.projector();
      // The units an operator follows: emergencies first, then units on a call.
      const rank = { emergency: 0, on_scene: 1, en_route: 1, busy: 2 };
      const chosen = Object.entries(units)
        .filter(([, u]) => isObject(u) && u.status in rank && u.lat >= p.south && u.lat <= p.north)
        .sort((a, b) => rank[a[1].status] - rank[b[1].status] || (a[0] < b[0] ? -1 : 1))
        .slice(0, MAX_TRACKS).map(([id]) => id);
      const now = Date.now();
      for (const id of [...t.lines.keys()]) if (!chosen.includes(id)) { t.lines.delete(id); t.version = (t.version || 0) + 1; }
      const due = chosen.filter((id) => now - (t.fetchedAt.get(id) || 0) > TRACK_REFRESH_MS).slice(0, 4);
      const from = new Date(now - minutes * 60000).toISOString();
      for (const id of due) {
        t.fetchedAt.set(id, now);
        t.pending++;
        fetchJSON(`/api/v1/units/${encodeURIComponent(id)}/track?from=${from}&simplify=5`)
          .then((feature) => {
            const coords = feature && feature.geometry && Array.isArray(feature.geometry.coordinates) ? feature.geometry.coordinates : [];
            if (coords.length >= 2) t.lines.set(id, shape(coords)); else t.lines.delete(id);
            t.error = null;
          })
          .catch((e) => {
            t.error = e.message;
            if (e.status === 401 || e.status === 403) t.disabled = true;
          })
          .finally(() => { t.pending--; t.version = (t.version || 0) + 1; this.key = null; this.draw(); });
      }
    }

    drawTracks(g, p, counts) {
      const units = this.scene && isObject(this.scene.units) ? this.scene.units : {};
      let drawn = 0;
      g.lineJoin = 'round';
      g.lineCap = 'round';
      for (const [id, line] of this.tracks.lines) {
        const unit = units[id];
        const colour = unit && unit.status === 'emergency' ? '255, 23, 68' : '255, 145, 0';
        const pts = line.points;
        g.beginPath();
        for (let i = 0; i < pts.length; i += 2) {
          const [x, y] = p.project(pts[i + 1], pts[i]);
          if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
        }
        g.strokeStyle = `rgba(${colour}, 0.75)`;
        g.lineWidth = 2.5;
        g.setLineDash([5, 4]);
        g.stroke();
        g.setLineDash([]);
        drawn++;
      }
      counts.tracks = drawn;
      this.stats.tracks = drawn;
    }
  }

  return { load, MapBase, stats: shared.stats, shared, decodeTopology };
})();
