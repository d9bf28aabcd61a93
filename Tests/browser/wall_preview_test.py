#!/usr/bin/env python3
"""Browser test of the live wall preview (/walls/{id}) in headless Chromium.

Drives Debian's Chromium over the Chrome DevTools Protocol and checks what the page draws against
the scene it holds and against the daemon's own GET /api/v1/walls/{id}/scene:

  * the page subscribes and gets a scene; one element per tile with the source's title, status and
    the tile's reason, at the tile's canvas rectangle scaled to the window; one element per display;
    a marker for every unit inside a map viewport, where the projection puts it; camera tiles play a
    stream or show a clear placeholder; offline tiles are marked; incident panels list the incidents;
    web tiles show their URL and load nothing;
  * a screenshot that is not blank (PNG decoded here with zlib);
  * patches: seq grows, a moving unit's marker moves, the DOM tile set stays Object.keys(scene.tiles);
  * a forced reconnect (window.hypervision.dropConnection()): the page reconnects, seq continues and
    the drawn tiles are those of a fresh GET /api/v1/walls/{id}/scene;
  * the page's RFC 6902 implementation on the RFC's own examples;
  * with the fake server (it has POST /fake/stall), dead-link detection: a silent open socket is
    dropped after 6 s and the page resubscribes.

Usage:
  python3 Tests/browser/wall_preview_test.py --base http://127.0.0.1:8080 [--token T] [--screenshot wall.png]
  python3 Tests/browser/wall_preview_test.py --fake        # starts Tests/browser/fake_wall_server.py itself

Needs: apt-get install -y chromium; pip install websocket-client. Exits 0 when every check passes.
"""
import argparse
import base64
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

try:
    import websocket  # pip package websocket-client
except ImportError:
    sys.exit("FAIL: the Python package websocket-client is missing: pip install websocket-client")

HERE = os.path.dirname(os.path.abspath(__file__))


class Failure(Exception):
    pass


class Checks:
    def __init__(self):
        self.passed = 0

    def ok(self, condition, message):
        if not condition:
            raise Failure(message)
        self.passed += 1


# ------------------------------------------------------------------ Chrome DevTools Protocol

class Browser:
    """Headless Chromium and one page, driven over CDP (flattened target sessions)."""

    def __init__(self, binary, width, height):
        self.profile = tempfile.mkdtemp(prefix="hv-chromium-")
        self.process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
             "--remote-allow-origins=*", f"--user-data-dir={self.profile}", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--autoplay-policy=no-user-gesture-required", f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.stderr_lines = []
        url = self._devtools_url(timeout=30)
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True, enable_multithread=True)
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(domain, session=True)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)

    def _devtools_url(self, timeout):
        found = []

        def pump():
            # Keep draining stderr so Chromium never blocks on a full pipe.
            for raw in self.process.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                self.stderr_lines.append(line)
                match = re.search(r"DevTools listening on (ws://\S+)", line)
                if match and not found:
                    found.append(match.group(1))
        threading.Thread(target=pump, daemon=True).start()
        deadline = time.time() + timeout
        while time.time() < deadline and not found:
            if self.process.poll() is not None:
                raise Failure("chromium exited at start:\n" + "\n".join(self.stderr_lines[-20:]))
            time.sleep(0.05)
        if not found:
            raise Failure("chromium printed no 'DevTools listening on ws://…' within %d s" % timeout)
        return found[0]

    def call(self, method, params=None, session=False, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session if session is True else session
        self.ws.send(json.dumps(message))
        deadline = time.time() + timeout
        while True:
            self.ws.settimeout(max(0.1, deadline - time.time()))
            try:
                reply = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                raise Failure(f"no answer to {method} within {timeout} s")
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise Failure(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise Failure(f"page script failed: {text}\n  in: {expression[:200]}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout, what):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.evaluate(expression)
            if last:
                return last
            time.sleep(0.1)
        raise Failure(f"timed out after {timeout} s waiting for {what} ({expression}); "
                      f"page state: {self.evaluate(STATE_JS)}")

    def page_errors(self):
        """Uncaught exceptions and console errors the page produced (events seen so far)."""
        errors = []
        for event in self.events:
            if event["method"] == "Runtime.exceptionThrown":
                details = event["params"]["exceptionDetails"]
                errors.append(details.get("exception", {}).get("description") or details.get("text"))
            elif event["method"] == "Runtime.consoleAPICalled" and event["params"]["type"] == "error":
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in event["params"]["args"]))
        return errors

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


STATE_JS = ("JSON.stringify(window.hypervision && {seq: hypervision.seq, connected: hypervision.connected, "
            "reconnects: hypervision.reconnects, messages: hypervision.messages, lastError: hypervision.lastError, "
            "hasScene: !!hypervision.scene, status: document.getElementById('status-text').textContent})")

# One evaluation reads the held scene and the DOM together; the page is single-threaded, so the
# two are from the same moment.
SNAPSHOT_JS = r"""
(() => {
  const hv = window.hypervision;
  const box = (e) => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, width: r.width, height: r.height}; };
  const wall = document.getElementById('wall');
  const markerAt = (g) => {
    // The marker's anchor in page pixels: its translate() in the map's SVG (user units are CSS pixels).
    const m = g.transform.baseVal.consolidate().matrix;
    const s = g.ownerSVGElement.getBoundingClientRect();
    return {x: s.left + m.e, y: s.top + m.f};
  };
  return {
    seq: hv.seq, connected: hv.connected, reconnects: hv.reconnects, messages: hv.messages,
    patches: hv.patches, scenes: hv.scenes, lastError: hv.lastError, canPlayHLS: hv.canPlayHLS,
    scene: hv.scene,
    wall: box(wall), scale: Number(wall.dataset.scale),
    status: document.getElementById('status-text').textContent,
    iframes: document.querySelectorAll('iframe').length,
    displays: [...document.querySelectorAll('[data-display-id]')].map((e) => ({id: e.dataset.displayId, box: box(e)})),
    tiles: [...document.querySelectorAll('.tile[data-tile-id]')].map((e) => {
      const content = e.querySelector('.tile-content');
      const banner = e.querySelector('.offline-banner');
      const map = e.querySelector('svg.map');
      return {
        id: e.dataset.tileId, kind: e.dataset.kind, status: e.dataset.status, box: box(e),
        title: e.querySelector('.tile-title').textContent,
        statusText: e.querySelector('.tile-status').textContent,
        reason: e.querySelector('.tile-reason').textContent,
        media: content.dataset.media || null,
        mediaTags: [...content.querySelectorAll('video, img')].map((m) => m.tagName.toLowerCase()),
        placeholder: (content.querySelector('.placeholder') || {}).textContent || null,
        placeholderKind: (content.querySelector('.placeholder') || {dataset: {}}).dataset.placeholder || null,
        offlineBannerShown: !!banner && getComputedStyle(banner).display !== 'none',
        mapBox: map ? box(map) : null,
        incidentRows: [...e.querySelectorAll('li[data-incident-id]')].map((li) => li.dataset.incidentId),
        mapIncidents: [...e.querySelectorAll('g[data-incident-id]')].map((g) => g.dataset.incidentId),
        units: [...e.querySelectorAll('g[data-unit-id]')].map((g) => ({
          id: g.dataset.unitId, at: markerAt(g), stale: g.classList.contains('stale'),
          status: g.dataset.status, label: g.querySelector('text').textContent,
          moved: g.dataset.moved === 'true', raw: {x: Number(g.dataset.x), y: Number(g.dataset.y)},
          fill: g.querySelector('.marker').getAttribute('fill'),
          heading: g.dataset.heading })),
      };
    }),
  };
})()
"""


# ------------------------------------------------------------------ PNG decoding (stdlib only)

def decode_png(data):
    """(width, height, rows of (r, g, b) tuples) for 8-bit RGB/RGBA non-interlaced PNGs, as Chromium writes."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Failure("screenshot is not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise Failure(f"unexpected PNG format depth={depth} colour={colour} interlace={interlace}")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else upper_left)) & 0xFF
        rows.append([tuple(line[x * channels:x * channels + 3]) for x in range(width)])
        previous = line
    return width, height, rows


def image_statistics(rows):
    """Distinct colours and the standard deviation of luminance over a sample grid."""
    colours, lum = set(), []
    for y in range(0, len(rows), 3):
        for x in range(0, len(rows[y]), 3):
            r, g, b = rows[y][x]
            colours.add((r, g, b))
            lum.append(0.299 * r + 0.587 * g + 0.114 * b)
    mean = sum(lum) / len(lum)
    return len(colours), math.sqrt(sum((v - mean) ** 2 for v in lum) / len(lum))


# ------------------------------------------------------------------ expectations from a scene

def mercator(lat):
    lat = max(-85.05, min(85.05, lat))
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def project(viewport, lat, lon, width, height):
    west, east = viewport["west"], viewport["east"]
    if east < west:
        east += 360
        if lon < west:
            lon += 360
    top, bottom = mercator(viewport["north"]), mercator(viewport["south"])
    return (lon - west) / (east - west) * width, (top - mercator(lat)) / (top - bottom) * height


def expected_title(tile_id, source):
    return str(source.get("title") or source.get("id") or tile_id)


def check_drawing(checks, snap, label):
    """Everything the DOM must show for the scene the page holds, at one moment."""
    scene = snap["scene"]
    tiles = scene["tiles"]
    dom_tiles = {t["id"]: t for t in snap["tiles"]}
    checks.ok(len(dom_tiles) == len(snap["tiles"]), f"{label}: duplicate tile elements: {[t['id'] for t in snap['tiles']]}")
    checks.ok(set(dom_tiles) == set(tiles),
              f"{label}: DOM tiles {sorted(dom_tiles)} != Object.keys(scene.tiles) {sorted(tiles)} at seq {snap['seq']}")

    displays = scene.get("displays") or {}
    dom_displays = [d["id"] for d in snap["displays"]]
    checks.ok(sorted(dom_displays) == sorted(displays),
              f"{label}: display elements {sorted(dom_displays)} != scene displays {sorted(displays)}")

    scale, wall = snap["scale"], snap["wall"]
    checks.ok(scale > 0 and wall["width"] > 100 and wall["height"] > 50, f"{label}: the wall is not drawn: {wall}, scale {scale}")

    def near(box, rect, what):
        want = (wall["x"] + rect["x"] * scale, wall["y"] + rect["y"] * scale, rect["width"] * scale, rect["height"] * scale)
        got = (box["x"], box["y"], box["width"], box["height"])
        checks.ok(all(abs(a - b) <= 1.5 for a, b in zip(got, want)),
                  f"{label}: {what} drawn at {tuple(round(v, 1) for v in got)}, expected {tuple(round(v, 1) for v in want)}")

    for display in snap["displays"]:
        near(display["box"], displays[display["id"]], f"display {display['id']}")

    for tile_id, tile in tiles.items():
        dom, source = dom_tiles[tile_id], tile["source"]
        near(dom["box"], tile["rect"], f"tile {tile_id}")
        checks.ok(dom["title"] == expected_title(tile_id, source),
                  f"{label}: tile {tile_id} title {dom['title']!r}, expected {expected_title(tile_id, source)!r}")
        checks.ok(dom["reason"] == tile["reason"], f"{label}: tile {tile_id} reason {dom['reason']!r}, expected {tile['reason']!r}")
        checks.ok(dom["status"] == source["status"] and dom["statusText"] == source["status"],
                  f"{label}: tile {tile_id} status {dom['status']!r}/{dom['statusText']!r}, expected {source['status']!r}")
        checks.ok(dom["kind"] == source["kind"], f"{label}: tile {tile_id} kind {dom['kind']!r}, expected {source['kind']!r}")
        checks.ok(dom["offlineBannerShown"] == (source["status"] == "offline"),
                  f"{label}: tile {tile_id} status {source['status']} but offline banner shown={dom['offlineBannerShown']}")
        kind = source["kind"]
        if kind == "camera":
            protocols = [s["protocol"] for s in source.get("streams", [])]
            checks.ok(dom["media"] in ("video", "img", "placeholder"), f"{label}: camera tile {tile_id} draws {dom['media']!r}")
            if dom["media"] == "placeholder":
                checks.ok(bool(dom["placeholder"]), f"{label}: camera tile {tile_id} has an empty placeholder")
            else:
                checks.ok(dom["mediaTags"] == [{"video": "video", "img": "img"}[dom["media"]]],
                          f"{label}: camera tile {tile_id} media {dom['media']} but elements {dom['mediaTags']}")
            if source["status"] == "offline":
                # An offline camera's stream is not asked for: a clear state instead.
                checks.ok(dom["media"] == "placeholder" and dom["placeholderKind"] == "offline"
                          and "camera offline" in (dom["placeholder"] or ""),
                          f"{label}: offline camera tile {tile_id} shows {dom['media']} {dom['placeholder']!r}")
            elif protocols and set(protocols) <= {"rtsp", "webrtc"}:
                want = "no playable stream: " + ", ".join(dict.fromkeys(protocols))
                checks.ok(dom["media"] == "placeholder" and want in (dom["placeholder"] or ""),
                          f"{label}: camera tile {tile_id} with {protocols} shows {dom['placeholder']!r}, expected {want!r}")
            if "hls" in protocols and not snap["canPlayHLS"]:
                checks.ok(dom["mediaTags"] != ["video"], f"{label}: {tile_id} plays HLS although canPlayType says no")
        elif kind == "incidents":
            want = [i for i in source.get("incidents", [])]
            checks.ok(dom["incidentRows"] == want, f"{label}: incident panel {tile_id} lists {dom['incidentRows']}, expected {want}")
        elif kind == "web":
            checks.ok(dom["media"] == "web" and source["url"] in (dom["placeholder"] or ""),
                      f"{label}: web tile {tile_id} shows {dom['placeholder']!r}, expected its URL {source['url']!r}")
        elif kind == "map":
            check_map(checks, label, tile_id, tile, dom, scene)
    checks.ok(snap["iframes"] == 0, f"{label}: the page created {snap['iframes']} iframes (remote pages must not load)")


# Every element the page draws on the wall, clipped to its tile (a map's to its map), as page
# boxes: markers, labels, captions, cards, banners, incident rows.
BEZEL_JS = r"""
(() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, width: r.width, height: r.height}; };
  const shown = (e) => { for (let n = e; n && n.nodeType === 1; n = n.parentNode) { const s = getComputedStyle(n); if (s.display === 'none' || s.visibility === 'hidden') return false; } return true; };
  const items = [];
  for (const tile of document.querySelectorAll('.tile[data-tile-id]')) {
    const clip = box(tile);
    const add = (what, e, within) => { if (shown(e) && (e.textContent || e.tagName !== 'SPAN')) items.push({what, tile: tile.dataset.tileId, box: box(e), clip: within || clip}); };
    const map = tile.querySelector('svg.map');
    if (map) {
      const mapBox = box(map);
      for (const g of map.querySelectorAll('g[data-unit-id], g[data-incident-id]')) {
        const id = g.dataset.unitId || g.dataset.incidentId;
        add(`marker ${id}`, g.querySelector('.marker'), mapBox);
        const text = g.querySelector('text');
        if (text && text.textContent) add(`label ${id}`, text, mapBox);
      }
      for (const t of map.querySelectorAll('text.corner')) add('map corner', t, mapBox);
    }
    for (const e of tile.querySelectorAll('.tile-title, .tile-status, .tile-reason, .offline-banner, .ph-main, .ph-url, .incident-list li, .basemap-attribution')) {
      add(e.className.split(' ')[0], e);
    }
  }
  return {displays: [...document.querySelectorAll('[data-display-id]')].map((e) => ({id: e.dataset.displayId, box: box(e)})), items};
})()
"""


def check_bezels(checks, browser, label, evaluate=None):
    """Nothing drawn crosses a bezel band: each element's part inside its tile lies on one display."""
    found = (evaluate or browser.evaluate)(BEZEL_JS)
    displays = [d["box"] for d in found["displays"]]
    crossing = []
    for item in found["items"]:
        b, c = item["box"], item["clip"]
        x0, y0 = max(b["x"], c["x"]), max(b["y"], c["y"])
        x1, y1 = min(b["x"] + b["width"], c["x"] + c["width"]), min(b["y"] + b["height"], c["y"] + c["height"])
        if x1 - x0 < 0.5 or y1 - y0 < 0.5:
            continue
        # A tenth of a pixel for rounding (positions are written to a tenth of a pixel).
        if not any(x0 >= d["x"] - 0.1 and y0 >= d["y"] - 0.1 and x1 <= d["x"] + d["width"] + 0.1 and y1 <= d["y"] + d["height"] + 0.1
                   for d in displays):
            crossing.append((item["what"], item["tile"], (round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1))))
    checks.ok(not crossing, f"{label}: drawn over a bezel band: {crossing[:6]}")
    return len(found["items"])


RASTER_JS = r"""
(() => {
  const tile = document.querySelector('.tile[data-kind="map"]');
  const svg = tile.querySelector('svg.map').getBoundingClientRect();
  const viewport = hypervision.scene.tiles[tile.dataset.tileId].source.viewport;
  return {map: {x: svg.left, y: svg.top, width: svg.width, height: svg.height}, viewport,
    tiles: [...tile.querySelectorAll('img.basemap-tile')].map((img) => {
      const r = img.getBoundingClientRect();
      return {src: img.src, natural: img.naturalWidth, box: {x: r.left, y: r.top, width: r.width, height: r.height}};
    })};
})()
"""


def check_raster_tiles(checks, browser, timeout):
    """A configured XYZ source: tiles load and sit where the projection puts their corners."""
    browser.wait_for("[...document.querySelectorAll('img.basemap-tile')].some((i) => i.naturalWidth === 256)", timeout,
                     "the raster tiles to load")
    found = browser.evaluate(RASTER_JS)
    loaded = [t for t in found["tiles"] if t["natural"] == 256]
    checks.ok(len(loaded) >= 1, f"no raster tile loaded: {found['tiles'][:3]}")
    box, viewport = found["map"], found["viewport"]
    for tile in loaded[:6]:
        z, x, y = (int(v) for v in tile["src"].rsplit("/", 3)[-3:-1] + [tile["src"].rsplit("/", 1)[1][:-4]])
        n = 2 ** z
        lon = lambda tx: tx / n * 360 - 180
        lat = lambda ty: math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * ty / n))))
        left, top = project(viewport, lat(y), lon(x), box["width"], box["height"])
        right, bottom = project(viewport, lat(y + 1), lon(x + 1), box["width"], box["height"])
        got = tile["box"]
        checks.ok(abs(got["x"] - box["x"] - left) <= 1.5 and abs(got["y"] - box["y"] - top) <= 1.5
                  and abs(got["width"] - (right - left)) <= 2 and abs(got["height"] - (bottom - top)) <= 2,
                  f"raster tile {z}/{x}/{y} drawn at {got}, its corners project to ({left:.1f}, {top:.1f})-({right:.1f}, {bottom:.1f})")


def check_map(checks, label, tile_id, tile, dom, scene):
    viewport, box = tile["source"]["viewport"], dom["mapBox"]
    checks.ok(box is not None, f"{label}: map tile {tile_id} has no SVG map")
    markers = {}
    for unit in dom["units"]:
        markers.setdefault(unit["id"], []).append(unit)
    checks.ok(all(len(v) == 1 for v in markers.values()), f"{label}: map {tile_id} draws a unit twice: {sorted(markers)}")
    # Units well inside the viewport must be drawn; within a pixel of its edge they may be.
    def placed(item, slack):
        x, y = project(viewport, item["lat"], item["lon"], box["width"], box["height"])
        return -slack <= x <= box["width"] + slack and -slack <= y <= box["height"] + slack
    must = {uid for uid, u in scene["units"].items() if placed(u, -1)}
    may = {uid for uid, u in scene["units"].items() if placed(u, 1)}
    checks.ok(must <= set(markers) <= may,
              f"{label}: map {tile_id} unit markers {sorted(markers)}; units inside its viewport {sorted(must)}"
              f" (missing {sorted(must - set(markers))}, extra {sorted(set(markers) - may)})")
    for uid in markers:
        unit, marker = scene["units"][uid], markers[uid][0]
        x, y = project(viewport, unit["lat"], unit["lon"], box["width"], box["height"])
        raw = (marker["raw"]["x"], marker["raw"]["y"])
        checks.ok(abs(raw[0] - x) <= 1.0 and abs(raw[1] - y) <= 1.0,
                  f"{label}: unit {uid} projected at {raw} in map {tile_id}, projection says ({x:.1f}, {y:.1f})")
        # Where it is drawn: at its place, unless that is on a bezel band (then moved off it,
        # which check_bezels verifies for every drawn element).
        got = (marker["at"]["x"] - box["x"], marker["at"]["y"] - box["y"])
        if not marker["moved"]:
            checks.ok(abs(got[0] - x) <= 1.0 and abs(got[1] - y) <= 1.0,
                      f"{label}: unit {uid} marker at {tuple(round(v, 1) for v in got)} in map {tile_id}, projection says ({x:.1f}, {y:.1f})")
        else:
            checks.ok(math.dist(got, (x, y)) <= 40, f"{label}: unit {uid} moved off a bezel from ({x:.1f}, {y:.1f}) to {got}: too far")
        checks.ok(marker["stale"] == bool(unit["stale"]), f"{label}: unit {uid} stale={unit['stale']} but marker stale={marker['stale']}")
        checks.ok(marker["label"] == str(unit.get("callsign") or uid), f"{label}: unit {uid} label {marker['label']!r}")
        checks.ok(marker["status"] == unit.get("status", "unknown"), f"{label}: unit {uid} marker status {marker['status']!r}")
        if "heading" in unit:
            checks.ok(float(marker["heading"]) == float(unit["heading"]), f"{label}: unit {uid} heading {marker['heading']} != {unit['heading']}")
    reds = [m for ms in markers.values() for m in ms if m["status"] == "emergency"]
    checks.ok(all(m["fill"] == "#ff1744" for m in reds), f"{label}: emergency units not red: {reds}")
    must = {iid for iid, i in scene["incidents"].items() if placed(i, -1)}
    may = {iid for iid, i in scene["incidents"].items() if placed(i, 1)}
    drawn = set(dom["mapIncidents"])
    checks.ok(must <= drawn <= may,
              f"{label}: map {tile_id} incidents {sorted(drawn)}; incidents inside its viewport {sorted(must)}")


# ------------------------------------------------------------------ the test

RFC6902_CASES = [
    # (document, patch, expected result, or None when the patch must fail) — mostly RFC 6902 Appendix A.
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ({"baz": "qux", "foo": ["a", 2, "c"]}, [{"op": "test", "path": "/baz", "value": "qux"},
                                           {"op": "test", "path": "/foo/1", "value": 2}], {"baz": "qux", "foo": ["a", 2, "c"]}),
    ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], None),
    ({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}], {"foo": "bar", "child": {"grandchild": {}}}),
    ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], None),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}], {"foo": ["bar", ["abc", "def"]]}),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}, {"op": "replace", "path": "/~1", "value": 1}], {"/": 1, "~1": 10}),
    ({"tiles": {"a/b": 1}}, [{"op": "copy", "from": "/tiles/a~1b", "path": "/tiles/c~0d"}], {"tiles": {"a/b": 1, "c~d": 1}}),
    ({"a": 1}, [{"op": "replace", "path": "/b", "value": 2}], None),
    ({"a": [1]}, [{"op": "remove", "path": "/a/01"}], None),
    ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], None),
    ({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1]),
    # A failing operation leaves the held document untouched (the page keeps drawing it).
    ({"a": 1}, [{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/zzz"}], None),
]


def check_json_patch(checks, browser):
    script = """((cases) => cases.map(([doc, patch]) => {
        const before = JSON.stringify(doc);
        try { return {ok: true, value: hypervision.applyPatch(doc, patch), untouched: JSON.stringify(doc) === before}; }
        catch (e) { return {ok: false, error: String(e.message), untouched: JSON.stringify(doc) === before}; }
    }))(%s)""" % json.dumps([[d, p] for d, p, _ in RFC6902_CASES])
    results = browser.evaluate(script)
    for (doc, patch, expected), result in zip(RFC6902_CASES, results):
        checks.ok(result["untouched"], f"JSON Patch {patch} modified its input document")
        if expected is None:
            checks.ok(not result["ok"], f"JSON Patch {patch} on {doc} should fail, gave {result.get('value')}")
        else:
            checks.ok(result["ok"] and result["value"] == expected,
                      f"JSON Patch {patch} on {doc}: got {result}, expected {expected}")


def http_get_json(url, token):
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as e:
        raise Failure(f"GET {url}: HTTP {e.code} {e.read()[:300]!r}")
    except urllib.error.URLError as e:
        raise Failure(f"GET {url}: {e.reason}")


def run(args, checks):
    base = args.base.rstrip("/")
    wall = args.wall
    page_url = f"{base}/walls/{urllib.parse.quote(wall)}" + (f"?token={urllib.parse.quote(args.token)}" if args.token else "")
    # Fail precisely when the daemon does not serve the page or its assets at all.
    for url in (page_url, f"{base}/walls/assets/wall.js", f"{base}/walls/assets/wall.css"):
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                checks.ok(response.status == 200 and len(response.read()) > 0, f"GET {url}: empty answer")
        except urllib.error.HTTPError as e:
            raise Failure(f"GET {url}: HTTP {e.code} (is the wall preview route registered?)")
        except urllib.error.URLError as e:
            raise Failure(f"GET {url}: {e.reason} (is the daemon running at {base}?)")
    browser = Browser(args.chromium, args.width, args.height)
    try:
        browser.call("Page.navigate", {"url": page_url}, session=True)
        browser.wait_for("!!(window.hypervision && window.hypervision.scene && document.querySelector('[data-tile-id]'))",
                         args.timeout, "the first scene to be drawn")
        first = browser.evaluate(SNAPSHOT_JS)
        scene = first["scene"]
        checks.ok(first["connected"], f"page not connected after its first scene: {first['status']}")
        checks.ok(scene.get("wall") == wall, f"scene is for wall {scene.get('wall')!r}, expected {wall!r}")
        checks.ok(len(scene["tiles"]) > 0, "the scene has no tiles")
        check_drawing(checks, first, "first scene")
        drawn = check_bezels(checks, browser, "first scene")
        maps = [t for t in scene["tiles"].values() if t["source"]["kind"] == "map"]
        units_drawn = sum(len(t["units"]) for t in first["tiles"])
        if args.require_units:
            checks.ok(maps and units_drawn > 0, f"no unit markers drawn (map tiles: {len(maps)}, units: {len(scene['units'])})")

        check_json_patch(checks, browser)

        # Screenshot: not blank.
        shot = base64.b64decode(browser.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"])
        if args.screenshot:
            with open(args.screenshot, "wb") as f:
                f.write(shot)
        width, height, rows = decode_png(shot)
        colours, deviation = image_statistics(rows)
        checks.ok(width == args.width and height == args.height, f"screenshot is {width}x{height}, expected {args.width}x{args.height}")
        checks.ok(colours >= 16 and deviation >= 8, f"screenshot looks blank: {colours} distinct colours, luminance deviation {deviation:.1f}")

        # Patches: seq grows, the DOM follows the scene, moving units move their markers.
        seq0 = first["seq"]
        before = {u["id"]: u["at"] for t in first["tiles"] for u in t["units"]}
        browser.wait_for(f"window.hypervision.seq >= {seq0 + 3} && window.hypervision.patches > 0", args.timeout,
                         "three more patches")
        moved = None
        deadline = time.time() + args.timeout
        while moved is None and time.time() < deadline:
            snap = browser.evaluate(SNAPSHOT_JS)
            check_drawing(checks, snap, f"after patches (seq {snap['seq']})")
            check_bezels(checks, browser, f"after patches (seq {snap['seq']})")
            for uid, unit in snap["scene"]["units"].items():
                old = first["scene"]["units"].get(uid)
                if old and (old["lat"], old["lon"]) != (unit["lat"], unit["lon"]) and uid in before:
                    now_at = next((u["at"] for t in snap["tiles"] for u in t["units"] if u["id"] == uid), None)
                    if now_at and math.dist((now_at["x"], now_at["y"]), (before[uid]["x"], before[uid]["y"])) > 0.5:
                        moved = (uid, before[uid], now_at)
                        break
            if moved is None:
                time.sleep(0.3)
        if args.require_units:
            checks.ok(moved is not None, f"no unit marker moved within {args.timeout} s although patches arrived")
        after_patches = browser.evaluate(SNAPSHOT_JS)
        checks.ok(after_patches["seq"] > seq0, f"seq did not grow: {seq0} -> {after_patches['seq']}")

        # Forced reconnect: the page resubscribes with since, seq continues, tiles match a fresh GET.
        r0, seq_before = after_patches["reconnects"], after_patches["seq"]
        browser.evaluate("window.hypervision.dropConnection(), true")
        browser.wait_for(f"window.hypervision.reconnects > {r0} && window.hypervision.connected", args.timeout,
                         "the page to reconnect")
        browser.wait_for(f"window.hypervision.seq > {seq_before}", args.timeout, "seq to continue after the reconnect")
        snap = browser.evaluate(SNAPSHOT_JS)
        checks.ok(snap["seq"] > seq_before, f"seq went from {seq_before} to {snap['seq']} across the reconnect")
        # Resuming with since inside the history needs no full scene; outside it, a full scene is right too.
        resumed = "with patches (since)" if snap["scenes"] == after_patches["scenes"] else "with a full scene"
        if args.fake:
            checks.ok(resumed.startswith("with patches"), "the page did not resume with since: it got a full scene")
        check_drawing(checks, snap, "after reconnect")
        scene_url = f"{base}/api/v1/walls/{urllib.parse.quote(wall)}/scene"
        matched, attempts = False, []
        for _ in range(10):
            # The wall keeps changing: retry until the page and the snapshot agree on a moment.
            fetched = http_get_json(scene_url, args.token)
            dom_ids = sorted(t["id"] for t in browser.evaluate(SNAPSHOT_JS)["tiles"])
            attempts.append((sorted(fetched["tiles"]), dom_ids))
            if sorted(fetched["tiles"]) == dom_ids:
                matched = True
                break
            time.sleep(0.3)
        checks.ok(matched, f"after reconnect the DOM tiles never matched GET {scene_url}: {attempts[-3:]}")

        # Dead-link detection, where the server can be told to go silent (the fake server only).
        dead_link = "skipped (server has no /fake/stall)"
        try:
            urllib.request.urlopen(urllib.request.Request(f"{base}/fake/stall?seconds=9", method="POST"), timeout=5).read()
        except (urllib.error.HTTPError, urllib.error.URLError):
            pass
        else:
            r1, d1 = browser.evaluate("[window.hypervision.reconnects, window.hypervision.deadLinks]")
            started = time.time()
            browser.wait_for(f"window.hypervision.reconnects > {r1}", 12, "the dead link to be detected (no message for 6 s)")
            detected = time.time() - started
            checks.ok(browser.evaluate("window.hypervision.deadLinks") == d1 + 1, "reconnected, but not because of a dead link")
            checks.ok(5 <= detected <= 9, f"dead link detected after {detected:.1f} s, expected about 6 s")
            browser.wait_for("window.hypervision.connected && window.hypervision.seq > %d" % snap["seq"], args.timeout,
                             "the page to resume after the dead link")
            check_drawing(checks, browser.evaluate(SNAPSHOT_JS), "after dead link")
            dead_link = f"detected after {detected:.1f} s and recovered"

        # A list of daemons (?daemons=): when the page's own goes silent, it subscribes to the next.
        failover = "skipped (needs the fake server)"
        if args.fake:
            second, second_base = start_fake(args.token)
            try:
                second_host = urllib.parse.urlparse(second_base).netloc
                separator = "&" if "?" in page_url else "?"
                browser.call("Page.navigate", {"url": f"{page_url}{separator}daemons={second_host}"}, session=True)
                browser.wait_for("!!(window.hypervision && window.hypervision.connected && window.hypervision.scene)", args.timeout,
                                 "the page with a daemon list to connect")
                first_host = urllib.parse.urlparse(base).netloc
                checks.ok(browser.evaluate("window.hypervision.daemon") == first_host, "the page did not start with its own daemon")
                checks.ok(browser.evaluate("window.hypervision.daemons") == [first_host, second_host], "the daemon list is not the page's")
                urllib.request.urlopen(urllib.request.Request(f"{base}/fake/stall?seconds=30", method="POST"), timeout=5).read()
                started = time.time()
                browser.wait_for(f"window.hypervision.connected && window.hypervision.daemon === '{second_host}' && "
                                 "window.hypervision.messages > 0", 15, "the page to move to the second daemon")
                moved_after = time.time() - started
                before = browser.evaluate("window.hypervision.messages")
                browser.wait_for(f"window.hypervision.messages > {before}", args.timeout, "messages from the second daemon")
                check_drawing(checks, browser.evaluate(SNAPSHOT_JS), "on the second daemon")
                failover = f"moved to the second daemon {moved_after:.1f} s after the first went silent"
            finally:
                second.terminate()
                second.wait(10)
        print(f"daemon list: {failover}")

        # The basemap under the maps: the offline vector data drawn (the fake serves a small one).
        basemap = browser.wait_for(
            "window.HypervisionBasemap && HypervisionBasemap.stats.offlineLoaded && "
            "JSON.stringify(HypervisionBasemap.stats)", args.timeout, "the offline basemap to load")
        if args.fake:
            # The fake's map spans two displays with an incident in the band between them.
            checks.ok(browser.evaluate("window.hypervision.bezelMoves") > 0, "nothing was moved off the map's bezel band")
            check_raster_tiles(checks, browser, args.timeout)
        errors = browser.page_errors()
        checks.ok(not errors, f"the page reported errors: {errors[:5]}")
        final = browser.evaluate(SNAPSHOT_JS)
        print(f"wall {wall}: {len(final['scene']['tiles'])} tiles, {len(final['displays'])} displays, "
              f"{sum(len(t['units']) for t in final['tiles'])} unit markers; seq {seq0} -> {final['seq']}, "
              f"{final['patches']} patches, {final['scenes']} scenes, {final['reconnects']} reconnects; "
              f"screenshot {colours} colours (deviation {deviation:.0f})"
              + (f" saved to {args.screenshot}" if args.screenshot else "") + f"; resumed {resumed}; dead link: {dead_link}")
        if moved:
            print(f"unit {moved[0]} marker moved from ({moved[1]['x']:.1f}, {moved[1]['y']:.1f}) to ({moved[2]['x']:.1f}, {moved[2]['y']:.1f})")
        print(f"media: " + ", ".join(f"{t['id']}={t['media']}" for t in final["tiles"] if t["kind"] == "camera")
              + f" (canPlayType HLS: {final['canPlayHLS']})")
        print(f"bezels: {drawn} drawn elements checked against the displays, "
              f"{browser.evaluate('window.hypervision.bezelMoves')} moved off a band; basemap {basemap}")
    finally:
        browser.close()


def start_fake(token):
    command = [sys.executable, os.path.join(HERE, "fake_wall_server.py"), "--port", "0"] + (["--token", token] if token else [])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        process.kill()
        raise Failure(f"the fake server did not start: {line!r}")
    return process, match.group(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="base URL of a running daemon, e.g. http://127.0.0.1:8080")
    parser.add_argument("--fake", action="store_true", help="start Tests/browser/fake_wall_server.py and test against it")
    parser.add_argument("--token", help="token with subscribe:WALL and query scopes")
    parser.add_argument("--wall", default="demo")
    parser.add_argument("--screenshot", help="save the screenshot (PNG) here")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds for each wait")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--no-require-units", dest="require_units", action="store_false",
                        help="do not fail when the wall has no unit on a map")
    args = parser.parse_args()
    if not args.base and not args.fake:
        parser.error("give --base URL or --fake")
    if not shutil.which(args.chromium):
        print(f"FAIL: no Chromium at {args.chromium} (apt-get install -y chromium)", file=sys.stderr)
        return 2

    fake = None
    checks = Checks()
    try:
        if args.fake:
            fake, args.base = start_fake(args.token)
        run(args, checks)
    except Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        print(f"browser: {checks.passed} passed, 1 failed")
        return 1
    finally:
        if fake:
            fake.terminate()
            fake.wait(10)
    print(f"browser: {checks.passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
