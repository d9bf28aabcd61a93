#!/usr/bin/env python3
"""The operator's wall in headless Chromium, against a real `hypervisiond --demo` that this test
starts (and restarts) itself, with the demo's test video (scripts/demo-video) and an offline basemap.

Three pages in one browser, as in a command room: the live preview (/walls/demo, an operator's
token), the renderer of display r0c1 (/render/demo/r0c1, a renderer's subscribe:demo token) and
the console (/console/demo, an admin token). It checks that:

  * video frames change in camera tiles (two screenshots of a tile differ), the preview plays the
    `preview` variant and the full-screen renderer the `sub` one;
  * the offline basemap and the demo streets draw under the map (canvas pixels), and the zone
    hex grid once the demo has incidents;
  * a unit's marker appears and moves when its pings arrive (POST /api/v1/pings);
  * nothing is drawn over a bezel band (the demo's map spans two displays);
  * console actions change what the renderer shows: a pin (its reason names the operator), a
    preset (1x1 on the camera region: the renderer's display shows one tile), a guard tour; the
    scene log shows the wall as it was before the preset change;
  * the renderer resumes after the daemon restarts (same state, same ports) and plays again.

Screenshots of the preview, the renderer and the console go to --screenshots DIR.

Usage:
  python3 Tests/browser/operator_test.py --daemon .build/debug/hypervisiond --basemap FILE [--screenshots DIR]
Needs chromium, ffmpeg, fonts-dejavu-core and the websocket-client pip package.
"""
import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from wall_preview_test import Browser, Checks, Failure, check_bezels, decode_png  # noqa: E402

ADMIN, RENDER = "console-admin-secret", "renderer-r0c1-secret"


def free_port(count=1):
    """A port (the first of `count` consecutive free ones)."""
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port + count > 65535:
            continue
        ok = True
        for p in range(port, port + count):
            t = socket.socket()
            try:
                t.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok:
            return port
    raise Failure("no free ports")


class Tab:
    """One page of the browser (its own CDP session)."""

    def __init__(self, browser, url, width, height):
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Network.enable"):
            browser.call(domain, session=self.session)
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=self.session)
        # Background tabs are throttled by Chromium; every page here is a wall and must keep drawing.
        browser.call("Emulation.setFocusEmulationEnabled", {"enabled": True}, session=self.session)
        browser.call("Page.navigate", {"url": url}, session=self.session)

    def evaluate(self, expression):
        result = self.browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                                   session=self.session)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise Failure(f"page script failed: {details.get('exception', {}).get('description') or details.get('text')}"
                          f"\n  in: {expression[:200]}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise Failure(f"timed out after {timeout} s waiting for {what} ({expression[:160]})")

    def screenshot(self, clip=None):
        params = {"format": "png"}
        if clip:
            params["clip"] = dict(clip, scale=1)
        return base64.b64decode(self.browser.call("Page.captureScreenshot", params, session=self.session)["data"])


class Daemon:
    """hypervisiond --demo on free ports with its own state directory; stop() and start() again."""

    def __init__(self, binary, basemap, video_port, log_dir):
        self.binary, self.state = binary, tempfile.mkdtemp(prefix="hv-operator-state-")
        os.chmod(self.state, 0o755)  # the embedded PostgreSQL runs as "postgres" when the tests run as root
        self.http = free_port()
        self.log_path = os.path.join(log_dir, "daemon.log")
        tokens = [f"console:{hashlib.sha256(ADMIN.encode()).hexdigest()}:admin",
                  f"renderer:{hashlib.sha256(RENDER.encode()).hexdigest()}:subscribe:demo"]
        self.env = dict(os.environ,
                        HYPERVISION_INGEST_TCP_PORT=str(free_port()), HYPERVISION_INGEST_UDP_PORT=str(free_port()),
                        HYPERVISION_INGEST_OSMAND_PORT=str(free_port()), HYPERVISION_INGEST_COT_PORT=str(free_port()),
                        HYPERVISION_SUBSCRIPTIONS_PORT=str(free_port()), HYPERVISION_AUTH_TOKENS=",".join(tokens),
                        HYPERVISION_DEMO_VIDEO_PORT=str(video_port), HYPERVISION_DEMO_VIDEO_PORTS="16",
                        HYPERVISION_BASEMAP_OFFLINE_FILE=basemap, HYPERVISION_HTTP_HOST="127.0.0.1")
        self.process = None
        self.base = f"http://127.0.0.1:{self.http}"

    def start(self, timeout=90):
        log = open(self.log_path, "a")
        self.process = subprocess.Popen([self.binary, "--demo", "--state-dir", self.state, "--http-port", str(self.http)],
                                        env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise Failure(f"hypervisiond exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise Failure(f"hypervisiond not ready within {timeout} s; see {self.log_path}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.state, ignore_errors=True)

    def call(self, method, path, body=None, token=ADMIN):
        request = urllib.request.Request(self.base + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            return e.code, e.read()[:300]


def pixels_changed(first, second):
    """The share of sampled pixels that differ between two PNG screenshots of the same box."""
    _, _, a = decode_png(first)
    _, _, b = decode_png(second)
    total = changed = 0
    for y in range(0, min(len(a), len(b)), 2):
        for x in range(0, min(len(a[y]), len(b[y])), 2):
            total += 1
            if sum(abs(p - q) for p, q in zip(a[y][x], b[y][x])) > 24:
                changed += 1
    return changed / max(1, total)


STREAMS_JS = "JSON.stringify(Object.entries(window.hypervision.streams))"


def playing(tab):
    return {tile: s for tile, s in json.loads(tab.evaluate(STREAMS_JS)) if s["state"] == "playing"}


def check_video(checks, tab, label, quality, minimum):
    """At least `minimum` camera tiles play the `quality` variant, and their frames change."""
    tab.wait_for(f"Object.values(window.hypervision.streams).filter((s) => s.state === 'playing').length >= {minimum}",
                 40, f"{minimum} camera tiles playing in the {label}")
    streams = playing(tab)
    qualities = sorted({s["quality"] for s in streams.values()})
    checks.ok(qualities == [quality], f"{label}: camera tiles play {qualities}, expected the {quality} variant only")
    tile = sorted(streams)[0]
    box = tab.evaluate(f"""(() => {{ const r = document.querySelector('.tile[data-tile-id="{tile}"] .tile-content').getBoundingClientRect();
        return {{x: Math.round(r.left), y: Math.round(r.top + r.height * 0.3), width: Math.round(r.width), height: Math.round(r.height * 0.6)}}; }})()""")
    first = tab.screenshot(box)
    time.sleep(1.5)
    second = tab.screenshot(box)
    share = pixels_changed(first, second)
    checks.ok(share > 0.01, f"{label}: the video in tile {tile} did not move ({share:.2%} of pixels changed in 1.5 s)")
    return len(streams), tile, share


MAP_JS = r"""
(() => {
  const map = document.querySelector('.tile[data-kind="map"]');
  if (!map) return null;
  const opaque = (c) => {
    if (!c || !c.width) return 0;
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let count = 0;
    for (let i = 3; i < data.length; i += 4 * 7) if (data[i] > 0) count++;
    return count / (data.length / 28);
  };
  return {offline: opaque(map.querySelector('canvas.basemap-offline')), layers: opaque(map.querySelector('canvas.basemap-layers')),
          drawn: hypervision.basemaps[map.dataset.tileId], stats: HypervisionBasemap.stats};
})()
"""


def scene_tiles(scene, kind="camera"):
    return {tid: t for tid, t in scene["tiles"].items() if t["source"]["kind"] == kind}


def run(args, checks, daemon, browser):
    base = daemon.base
    daemon.start()
    # The demo registers its cameras and first pings once the live picture is loaded.
    deadline = time.time() + 60
    while time.time() < deadline:
        status, scene = daemon.call("GET", "/api/v1/walls/demo/scene")
        if status == 200 and scene["units"] and any(t["source"].get("streams") for t in scene_tiles(scene).values()):
            break
        time.sleep(0.5)
    else:
        raise Failure("the demo wall has no units or camera streams after 60 s")
    checks.ok(all(s["protocol"] in ("mjpeg", "rtsp") for t in scene_tiles(scene).values() for s in t["source"]["streams"]),
              "demo cameras: streams other than MJPEG variants and RTSP")

    preview = Tab(browser, f"{base}/walls/demo?token={ADMIN}", 1280, 720)
    renderer = Tab(browser, f"{base}/render/demo/r0c1?token={RENDER}", 1920, 1080)
    console = Tab(browser, f"{base}/console/demo?token={ADMIN}", 1440, 860)
    for tab, what in ((preview, "preview"), (renderer, "renderer")):
        tab.wait_for("!!(window.hypervision && window.hypervision.scene && document.querySelector('[data-tile-id]'))", 30,
                     f"the {what}'s first scene")

    # 1. Video: frames change; the variant follows the tile's size.
    count, tile, share = check_video(checks, preview, "preview", "preview", 8)
    print(f"preview: {count} camera tiles play the preview variant; {tile}: {share:.0%} of pixels changed in 1.5 s")
    count, tile, share = check_video(checks, renderer, "renderer", "sub", 4)
    print(f"renderer r0c1: {count} camera tiles play the sub variant; {tile}: {share:.0%} of pixels changed in 1.5 s")
    view = renderer.evaluate("JSON.stringify({display: hypervision.scene.display, size: hypervision.scene.size, "
                             "status: getComputedStyle(document.getElementById('status')).display, cursor: getComputedStyle(document.body).cursor})")
    view = json.loads(view)
    checks.ok(view["display"] == "r0c1" and view["size"] == {"width": 1920, "height": 1080},
              f"the renderer holds {view['display']} {view['size']}, expected r0c1 1920x1080")
    checks.ok(view["status"] == "none" and view["cursor"] == "none", f"the renderer shows a status bar or a cursor: {view}")

    # 2. The basemap: offline vectors and the demo's streets under the map.
    preview.wait_for("HypervisionBasemap.stats.offlineLoaded && HypervisionBasemap.stats.overlays >= 1", 30, "the basemap to load")
    # The offline basemap covers the map (land or water everywhere); the demo's streets draw above it.
    drawn = preview.wait_for(f"(() => {{ const m = {MAP_JS}; return m && m.offline > 0.99 && m.layers > 0.01 && m.drawn && "
                             "(m.drawn.features.land || 0) + (m.drawn.features.water || 0) > 0 && "
                             "Object.keys(m.drawn.features).some((k) => k.startsWith('overlay:') && m.drawn.features[k] > 0) && JSON.stringify(m); })()",
                             15, "the basemap to draw")
    print(f"basemap: {drawn}")

    # 3. Markers move when pings arrive.
    scene = preview.evaluate("window.hypervision.scene")
    viewport = next(t for t in scene["tiles"].values() if t["source"]["kind"] == "map")["source"]["viewport"]
    lat = (viewport["south"] + viewport["north"]) / 2
    lon = viewport["west"] + (viewport["east"] - viewport["west"]) * 0.4
    now = time.time()
    for i, dlon in enumerate((0.0, 0.004)):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + i)) + "Z"
        status, answer = daemon.call("POST", "/api/v1/pings", {"unit": "PN-75-TEST-1", "time": stamp, "lat": lat, "lon": lon + dlon,
                                                               "heading": 90, "status": "available"})
        checks.ok(status == 200 and answer["accepted"] == 1, f"ping refused: {status} {answer}")
        at = preview.wait_for(
            "(() => { const g = document.querySelector('g[data-unit-id=\"PN-75-TEST-1\"]'); return g && g.dataset.x && "
            f"(window.__lastX === undefined || Number(g.dataset.x) > window.__lastX + 2) && (window.__lastX = Number(g.dataset.x)); }})()",
            15, f"the test unit's marker after ping {i + 1}")
        print(f"ping {i + 1}: marker of PN-75-TEST-1 at x={at:.1f}")

    # 4. Bezels: the demo's map spans r0c0 and r1c0.
    items = check_bezels(checks, None, "demo preview", evaluate=preview.evaluate)
    print(f"bezels: {items} drawn elements on one display each; {preview.evaluate('hypervision.bezelMoves')} moved off a band")

    # 5. The console drives the wall.
    console.wait_for("window.hypervisionConsole && hypervisionConsole.ready && hypervisionConsole.definition", 30, "the console")
    console.evaluate("document.getElementById('operator').value = 'test-operator', true")
    console.evaluate("hypervisionConsole.pin('cam-0077')")
    # The demo may already show cam-0077 for an alarm of its own: wait for the pin's reason, not
    # for any tile of that camera (the pin takes effect at the next round).
    pinned = preview.wait_for(
        "(() => { const t = hypervision.scene.tiles['cam-0077']; return t && t.reason === 'pinned by test-operator' && t.reason; })()",
        15, "the pinned camera on the wall with the pin's reason")
    checks.ok(pinned == "pinned by test-operator", f"the pinned camera's reason is {pinned!r}")
    status, pins = daemon.call("GET", "/api/v1/walls/demo/pins")
    checks.ok(status == 200 and [p["camera"] for p in pins["pins"]] == ["cam-0077"], f"GET pins: {status} {pins}")
    console.evaluate("hypervisionConsole.unpin('cam-0077')")
    preview.wait_for("!hypervision.scene.tiles['cam-0077'] || hypervision.scene.tiles['cam-0077'].reason !== 'pinned by test-operator'",
                     15, "the unpinned camera to lose its pin")

    console.evaluate("hypervisionConsole.startTour('night-test', ['cam-0090', 'cam-0091'], 5)")
    # A tour outranks normal content once an incumbent has had its minimum dwell (15 s in the demo).
    reason = preview.wait_for("Object.values(hypervision.scene.tiles).map((t) => t.reason).find((r) => r.startsWith('guard tour'))", 35,
                              "a guard tour tile")
    print(f"console: tour started, a tile says {reason!r}")
    console.evaluate("hypervisionConsole.stopTour('night-test')")
    preview.wait_for("!Object.values(hypervision.scene.tiles).some((t) => t.reason.startsWith('guard tour'))", 15, "the tour to stop")

    before_preset = time.time()
    checks.ok(len(scene_tiles(renderer.evaluate("hypervision.scene"))) == 4, "the renderer's display does not show a 2x2 preset")
    time.sleep(1.5)  # the scene log is written every second
    console.evaluate("hypervisionConsole.applyPreset('cams', '1x1')")
    renderer.wait_for("Object.values(hypervision.scene.tiles).filter((t) => t.source.kind === 'camera').length === 1", 15,
                      "the renderer to show one tile after the console applied 1x1")
    single = scene_tiles(renderer.evaluate("hypervision.scene"))
    rect = next(iter(single.values()))["rect"]
    checks.ok(rect["width"] == 1920 and rect["height"] == 1080, f"the 1x1 tile is {rect}, not the whole display")
    print(f"console: preset 1x1 applied; the renderer of r0c1 shows {list(single)} full-screen")
    # The scene log: the wall as it was before the preset change.
    time.sleep(1.5)
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(before_preset)) + "Z"
    console.evaluate(f"hypervisionConsole.showAt('{at}')")
    past = console.wait_for("(() => { const w = document.getElementById('view').contentWindow.hypervision; "
                            "return w && w.shown && Object.values(w.shown.tiles).filter((t) => t.source.kind === 'camera').length; })()",
                            15, "the console to show the scene log")
    checks.ok(past == 16, f"the scene log at {at} shows {past} camera tiles, expected the 16 of the 2x2 preset")
    rows = console.wait_for("document.querySelectorAll('#tiles tbody tr').length", 5, "the console's tile table")
    checks.ok(rows >= 16, f"the console lists {rows} tiles for the past scene")
    print(f"console: the scene log at {at} shows {past} camera tiles (live: 4); the table lists {rows} tiles with their reasons")
    tiles = json.loads(console.evaluate("JSON.stringify(Object.values(document.getElementById('view').contentWindow.hypervision.streams).map((s) => s.state))"))
    checks.ok(tiles and all(state == "past" for state in tiles),
              f"the past scene plays live video as if it were then: {tiles}")
    console.evaluate("hypervisionConsole.backToLive()")
    console.evaluate("hypervisionConsole.applyPreset('cams', '2x2')")
    renderer.wait_for("Object.values(hypervision.scene.tiles).filter((t) => t.source.kind === 'camera').length === 4", 15,
                      "the renderer back to 2x2")
    if args.screenshots:
        # Encoders start on demand: give the console's tiles a moment to show their video.
        try:
            console.wait_for("Object.values(document.getElementById('view').contentWindow.hypervision.streams)"
                             ".filter((s) => s.state === 'playing').length >= 14", 15, "the console's video")
        except Failure:
            pass
        with open(os.path.join(args.screenshots, "console.png"), "wb") as f:
            f.write(console.screenshot())


    # The zone hex grid, once the demo has opened incidents (the grid refetches while empty).
    cells = preview.wait_for("Object.values(hypervision.basemaps).map((b) => b.zoneCells).find((n) => n > 0)", 40,
                             "the zone hex grid to show the demo's incidents")
    print(f"basemap: {cells} zone cells with incidents drawn")

    # 6. Screenshots for the README.
    if args.screenshots:
        for tab, name in ((preview, "preview.png"), (renderer, "renderer-r0c1.png")):
            with open(os.path.join(args.screenshots, name), "wb") as f:
                f.write(tab.screenshot())

    # 7. The renderer resumes after the daemon restarts.
    before = json.loads(renderer.evaluate("JSON.stringify({seq: hypervision.seq, reconnects: hypervision.reconnects, scenes: hypervision.scenes})"))
    started = time.time()
    daemon.stop()
    renderer.wait_for("!window.hypervision.connected", 15, "the renderer to notice the daemon is gone")
    badge = renderer.evaluate("getComputedStyle(document.getElementById('status')).display")
    checks.ok(badge != "none", "the renderer shows no badge while its daemon is away")
    daemon.start()
    renderer.wait_for(f"hypervision.connected && hypervision.scenes > {before['scenes']} && hypervision.seq > {before['seq']}", 60,
                      "the renderer to resume")
    renderer.wait_for("Object.values(hypervision.streams).filter((s) => s.state === 'playing').length >= 4", 40,
                      "the renderer's video after the restart")
    after = json.loads(renderer.evaluate("JSON.stringify({seq: hypervision.seq, reconnects: hypervision.reconnects})"))
    print(f"restart: the renderer resumed {time.time() - started:.1f} s after the stop (reconnects {before['reconnects']} -> "
          f"{after['reconnects']}, seq {before['seq']} -> {after['seq']}) and plays again")

    # Three pages in one browser play every camera on the wall: none is left waiting for a
    # connection (a browser opens at most six to one port; the demo spreads cameras over 16).
    states = json.loads(preview.evaluate("JSON.stringify(Object.values(hypervision.streams).map((s) => s.state))"))
    checks.ok(states.count("failed") == 0, f"preview streams after the restart: {states}")
    # No tile source is configured: not one request of any page left the machine.
    hosts = {urllib.parse.urlsplit(e["params"]["request"]["url"]).hostname for e in browser.events
             if e["method"] == "Network.requestWillBeSent"}
    requests = sum(1 for e in browser.events if e["method"] == "Network.requestWillBeSent")
    checks.ok(requests > 0 and hosts <= {"127.0.0.1", None}, f"the pages asked hosts {sorted(map(str, hosts))}")
    print(f"network: {requests} requests from the pages, all to {sorted(map(str, hosts))}")
    errors = [e for e in browser.page_errors() if "Failed to load resource" not in e]
    checks.ok(not errors, f"the pages reported errors: {errors[:5]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--daemon", default=os.path.join(REPO, ".build", "debug", "hypervisiond"))
    parser.add_argument("--basemap", required=True, help="the offline basemap (scripts/basemap-data)")
    parser.add_argument("--screenshots", help="save the screenshots (PNG) in this directory")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)
    logs = tempfile.mkdtemp(prefix="hv-operator-")
    checks = Checks()
    video_port = free_port(16)
    video = subprocess.Popen([sys.executable, os.path.join(REPO, "scripts", "demo-video"), "--port", str(video_port), "--ports", "16"],
                             stdout=subprocess.PIPE, stderr=open(os.path.join(logs, "video.log"), "w"), text=True)
    daemon = Daemon(args.daemon, os.path.abspath(args.basemap), video_port, logs)
    browser = None
    started = time.time()
    try:
        line = video.stdout.readline()
        if "listening" not in line:
            raise Failure(f"scripts/demo-video did not start: {line!r}")
        browser = Browser(args.chromium, 1280, 720)
        run(args, checks, daemon, browser)
    except Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        if os.path.exists(daemon.log_path):
            print("--- daemon log (end) ---", file=sys.stderr)
            with open(daemon.log_path, errors="replace") as f:
                print("".join(f.readlines()[-30:]), file=sys.stderr)
        print(f"operator: {checks.passed} passed, 1 failed")
        return 1
    finally:
        if browser:
            browser.close()
        daemon.cleanup()
        video.terminate()
        video.wait(10)
    print(f"operator checks took {time.time() - started:.0f} s")
    print(f"operator: {checks.passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
