#!/usr/bin/env python3
"""A stand-in for hypervisiond's wall endpoints, to develop and test the live wall preview.

Serves, like the daemon:
  GET /walls/{id}                   the preview page (Sources/HypervisionHTTP/WallPreview/wall.html)
  GET /walls/assets/wall.js|css     its script and style
  GET /api/v1/walls/demo/scene      the current scene
  GET /api/v1/walls/demo/stream     WebSocket: subscribe, then scene / patch / heartbeat / error

The scene is a layout golden (it has a map tile, units and incidents) with more units synthesised
and a few sources changed so that every kind of drawing is exercised: an MJPEG camera (frames made
here, PNG in multipart/x-mixed-replace), a camera whose stream is broken, an HLS one, an offline
camera, a web tile. Every --interval seconds units move (an RFC 6902 patch); every few seconds a
camera tile is swapped, a unit changes status and an incident opens or closes.

Test hooks (not part of the daemon): POST /fake/stall?seconds=N stops sending anything to current
subscribers for N seconds without closing their sockets, so a test can check dead-link detection.

Standard library only. Prints "listening on http://HOST:PORT" once ready.
"""
import argparse
import asyncio
import base64
import copy
import datetime
import hashlib
import json
import math
import os
import random
import struct
import sys
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
ASSETS = os.path.join(REPO, "Sources", "HypervisionHTTP", "WallPreview")
DEFAULT_GOLDEN = os.path.join(REPO, "Tests", "HypervisionLayoutTests", "Golden", "scene-3x3.json")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WALL = "demo"


def now_rfc3339():
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def mercator(lat):
    return math.log(math.tan(math.pi / 4 + math.radians(max(-85.05, min(85.05, lat))) / 2))


def canonical(value):
    """Canonical JSON, as the daemon writes it (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def escape_token(token):
    return token.replace("~", "~0").replace("/", "~1")


def diff(old, new, path=""):
    """RFC 6902 operations from old to new: objects member by member, anything else replaced whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        ops = []
        for key in sorted(old.keys() - new.keys()):
            ops.append({"op": "remove", "path": f"{path}/{escape_token(key)}"})
        for key in sorted(new.keys()):
            sub = f"{path}/{escape_token(key)}"
            if key not in old:
                ops.append({"op": "add", "path": sub, "value": new[key]})
            else:
                ops.extend(diff(old[key], new[key], sub))
        return ops
    if old == new and type(old) is type(new):
        return []
    return [{"op": "replace", "path": path, "value": new}]


# ------------------------------------------------------------------ the simulated wall

class Wall:
    def __init__(self, golden_path, seed):
        self.random = random.Random(seed)
        with open(golden_path) as f:
            scene = json.load(f)
        scene["wall"] = WALL
        tiles = scene["tiles"]
        maps = [t for t in tiles.values() if t["source"]["kind"] == "map"]
        if not maps:
            sys.exit(f"{golden_path} has no map tile")
        self.viewport = maps[0]["source"]["viewport"]

        # Make every drawing path of the page run: playable, broken and unplayable streams, offline, web.
        def set_streams(tile_id, streams):
            if tile_id in tiles:
                tiles[tile_id]["source"]["streams"] = streams
        set_streams("cam-0001", [{"protocol": "mjpeg", "quality": "sub", "url": "/fake/mjpeg/cam-0001"}])
        set_streams("cam-0002", [{"protocol": "hls", "quality": "main", "url": "/fake/hls/cam-0002.m3u8"},
                                 {"protocol": "rtsp", "quality": "main", "url": "rtsp://vms.local/cam-0002/main"}])
        set_streams("cam-0004", [{"protocol": "mjpeg", "quality": "sub", "url": "/fake/missing/cam-0004.mjpg"}])
        if "cam-0003" in tiles:
            tiles["cam-0003"]["source"]["status"] = "offline"
            tiles["cam-0003"]["reason"] = "offline, kept for its grace period"
        if "cam-0007" in tiles:
            web = tiles.pop("cam-0007")
            web["region"] = "web"
            web["source"] = {"kind": "web", "id": "traffic", "title": "Traffic dashboard", "status": "online",
                             "url": "https://intranet.local/traffic"}
            web["fit"] = {"mode": "fill", "content": dict(web["rect"])}
            web["reason"] = "pinned by operator"
            tiles["traffic"] = web

        # As on real walls, the map spans two displays (r0c2 over r1c2) and the incident panel two
        # (r1c0 beside r1c1): markers, labels and rows must keep off the bezel bands between them.
        # An incident sits right in the map's band.
        d = scene["displays"]
        if "map" in tiles and "incidents" in tiles and all(k in d for k in ("r0c2", "r1c2", "r1c0", "r1c1")):
            top, bottom, left, right = d["r0c2"], d["r1c2"], d["r1c0"], d["r1c1"]
            rect = {"x": top["x"], "y": top["y"], "width": top["width"], "height": bottom["y"] + bottom["height"] - top["y"]}
            tiles["map"].update(rect=rect, displays={"r0c2": {"x": 0, "y": 0, "width": top["width"], "height": top["height"]},
                                                     "r1c2": {"x": 0, "y": 0, "width": bottom["width"], "height": bottom["height"]}})
            tiles["map"]["fit"]["content"] = dict(rect)
            panel = {"x": left["x"], "y": left["y"], "width": right["x"] + right["width"] - left["x"], "height": left["height"]}
            tiles["incidents"].update(rect=panel, displays={"r1c0": {"x": 0, "y": 0, "width": left["width"], "height": left["height"]},
                                                            "r1c1": {"x": 0, "y": 0, "width": right["width"], "height": right["height"]}})
            tiles["incidents"]["fit"]["content"] = dict(panel)
            vp = self.viewport
            band = (top["y"] + top["height"] + bottom["y"]) / 2
            fraction = (band - rect["y"]) / rect["height"]
            north, south = mercator(vp["north"]), mercator(vp["south"])
            lat = math.degrees(2 * math.atan(math.exp(north - fraction * (north - south))) - math.pi / 2)
            scene["incidents"]["INC-2026-0190"] = {
                "category": "incendie", "priority": 2, "status": "open", "openedAt": now_rfc3339(),
                "lat": round(lat, 7), "lon": round(vp["west"] + (vp["east"] - vp["west"]) * 0.3, 7), "summary": "Feu de poubelle"}
            # A unit in the same band, heading 33.7 degrees: its arrow's drawn box is then at its
            # tallest (10.82 marker units from its origin), so it shows whether the band margin
            # covers every heading. It stands still (see tick).
            scene["units"]["PN-75-SIM-BAND"] = {
                "callsign": "SIM BAND", "heading": 33.7, "kind": "car", "status": "busy", "stale": False,
                "lat": round(lat, 7), "lon": round(vp["west"] + (vp["east"] - vp["west"]) * 0.6, 7), "time": now_rfc3339()}
            tiles["incidents"]["source"]["incidents"] = sorted(
                scene["incidents"], key=lambda i: (scene["incidents"][i]["priority"], i))

        # More units, spread over the map viewport, with every status colour and a stale one.
        statuses = ["available", "busy", "en_route", "on_scene", "emergency", "off_duty", "available", "busy"]
        kinds = ["car", "car", "motorbike", "foot", "van"]
        vp = self.viewport
        for i in range(10):
            uid = f"PN-75-SIM-{i + 1:02d}"
            scene["units"][uid] = {
                "callsign": f"SIM {i + 1}",
                "heading": float(self.random.randrange(0, 360)),
                "kind": kinds[i % len(kinds)],
                "lat": self.random.uniform(vp["south"], vp["north"]),
                "lon": self.random.uniform(vp["west"], vp["east"]),
                "stale": i == 9,
                "status": statuses[i % len(statuses)],
                "time": now_rfc3339(),
            }
        self.seq = int(scene.get("seq", 1000))
        scene["seq"] = self.seq
        scene["generatedAt"] = now_rfc3339()
        self.scene = scene
        self.history = []  # (base, seq, ops), oldest first
        self.ticks = 0
        self.spare_tile = None  # the camera tile swapped out, swapped back in later

    def step(self, dt):
        """One simulation step; returns (base, seq, ops)."""
        new = copy.deepcopy(self.scene)
        self.ticks += 1
        vp = self.viewport
        for uid, unit in new["units"].items():
            if unit["stale"] or uid == "PN-75-SIM-BAND":
                continue  # a stale fix does not move; the band unit stays on its band
            speed = 0.00025 if unit.get("kind") == "foot" else 0.0012  # degrees per second, exaggerated for visibility
            heading = unit.get("heading", 0.0)
            lat = unit["lat"] + math.cos(math.radians(heading)) * speed * dt
            lon = unit["lon"] + math.sin(math.radians(heading)) * speed * dt / math.cos(math.radians(unit["lat"]))
            # Bounce off the edges of the viewport so units stay on the map.
            if not (vp["south"] < lat < vp["north"]):
                heading = (180 - heading) % 360
                lat = min(max(lat, vp["south"]), vp["north"])
            if not (vp["west"] < lon < vp["east"]):
                heading = (360 - heading) % 360
                lon = min(max(lon, vp["west"]), vp["east"])
            heading = (heading + self.random.uniform(-8, 8)) % 360
            unit.update(lat=round(lat, 7), lon=round(lon, 7), heading=round(heading, 1), time=now_rfc3339())

        every = max(1, round(4.0 / dt))  # about every 4 s
        if self.ticks % every == 0:
            self._swap_camera(new)
        if self.ticks % every == every // 2:
            movable = [u for u, v in new["units"].items() if not v["stale"]]
            uid = self.random.choice(movable)
            new["units"][uid]["status"] = self.random.choice(["available", "busy", "emergency", "on_scene"])
            self._toggle_incident(new)

        self.seq += 1
        new["seq"] = self.seq
        new["generatedAt"] = now_rfc3339()
        ops = diff(self.scene, new)
        self.scene = new
        entry = (self.seq - 1, self.seq, ops)
        self.history.append(entry)
        del self.history[:-100]
        return entry

    def _swap_camera(self, scene):
        tiles = scene["tiles"]
        if self.spare_tile is None:
            if "cam-0002" not in tiles:
                return
            self.spare_tile = tiles.pop("cam-0002")
            replacement = copy.deepcopy(self.spare_tile)
            replacement["source"].update(id="cam-0042", title="Camera cam-0042 (Gare du Nord)",
                                         streams=[{"protocol": "rtsp", "quality": "main", "url": "rtsp://vms.local/cam-0042/main"}])
            replacement["reason"] = "motion alarm 3 s ago"
            tiles["cam-0042"] = replacement
        else:
            tiles.pop("cam-0042", None)
            tiles["cam-0002"] = self.spare_tile
            self.spare_tile = None

    def _toggle_incident(self, scene):
        incidents = scene["incidents"]
        panel = next((t for t in scene["tiles"].values() if t["source"]["kind"] == "incidents"), None)
        iid = "INC-2026-0180"
        if iid in incidents:
            del incidents[iid]
        else:
            vp = self.viewport
            incidents[iid] = {"category": "accident", "priority": 1, "status": "open", "openedAt": now_rfc3339(),
                              "lat": (vp["south"] + vp["north"]) / 2, "lon": (vp["west"] + vp["east"]) / 2,
                              "summary": "Collision, two vehicles"}
        if panel is not None:
            panel["source"]["incidents"] = sorted(incidents, key=lambda i: (incidents[i]["priority"], i))

    def basemap(self):
        """A small offline basemap over the viewport (TopoJSON like scripts/basemap-data's): land
        on the west two thirds, a lake, a river across, a border down the east."""
        vp, q = self.viewport, 1e-4
        def arc(points):
            out, px, py = [], 0, 0
            for lon, lat in points:
                x, y = round((lon + 180) / q), round((lat + 90) / q)
                out.append([x - px, y - py])
                px, py = x, y
            return out
        w, s, e, n = vp["west"], vp["south"], vp["east"], vp["north"]
        dx, dy = e - w, n - s
        land = [(w - dx, s - dy), (w + dx * 0.66, s - dy), (w + dx * 0.7, n + dy), (w - dx, n + dy), (w - dx, s - dy)]
        lake = [(w + dx * 0.2, s + dy * 0.2), (w + dx * 0.3, s + dy * 0.2), (w + dx * 0.3, s + dy * 0.3), (w + dx * 0.2, s + dy * 0.2)]
        river = [(w - dx * 0.1, s + dy * 0.5), (w + dx * 0.3, s + dy * 0.55), (w + dx * 0.6, s + dy * 0.45), (w + dx * 1.1, s + dy * 0.5)]
        border = [(w + dx * 0.85, s - dy), (w + dx * 0.8, n + dy)]
        return {"type": "Topology", "transform": {"scale": [q, q], "translate": [-180, -90]},
                "objects": {"land": {"type": "MultiPolygon", "arcs": [[[0]]]}, "water": {"type": "MultiPolygon", "arcs": [[[1]]]},
                            "rivers": {"type": "MultiLineString", "arcs": [[2]]}, "borders": {"type": "MultiLineString", "arcs": [[3]]}},
                "arcs": [arc(land), arc(lake), arc(river), arc(border)]}

    def catch_up(self, since):
        """The messages a subscriber holding `since` needs: held patches, or a full scene."""
        if since is not None and since == self.seq:
            return []
        if since is not None and self.history and self.history[0][0] <= since < self.seq:
            return [patch_message(b, s, ops) for (b, s, ops) in self.history if b >= since]
        return [{"type": "scene", "seq": self.seq, "scene": self.scene}]


def patch_message(base, seq, ops):
    return {"type": "patch", "seq": seq, "base": base, "patch": ops}


# ------------------------------------------------------------------ PNG frames for the MJPEG camera

def png(width, height, pixel):
    """A truecolour PNG; pixel(x, y) -> (r, g, b)."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter: none
        for x in range(width):
            raw.extend(pixel(x, y))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b""))


def camera_frames(count=12, width=160, height=90):
    frames = []
    for i in range(count):
        bar = int(i * width / count)
        frames.append(png(width, height, lambda x, y: (200, 60, 40) if abs(x - bar) < 6
                          else (30 + y, 60 + x // 4, 90)))
    return frames


def raster_tile(shade):
    """A 256 px map tile: a dark field with a lighter frame, so tile edges show where they are."""
    return png(256, 256, lambda x, y: (70, 90, 110) if x < 2 or y < 2 else (shade, shade + 8, shade + 16))


TILES = [raster_tile(34), raster_tile(44)]


# ------------------------------------------------------------------ HTTP and WebSocket

class Subscriber:
    """One subscription's outgoing messages, bounded: one that cannot keep up is dropped with an
    error (it resumes with since) instead of growing memory."""
    def __init__(self, limit=256):
        self.queue = asyncio.Queue(maxsize=limit)
        self.overflowed = False

    def offer(self, message):
        if self.queue.full():
            self.overflowed = True
        else:
            self.queue.put_nowait(message)


class Server:
    def __init__(self, wall, token, interval, heartbeat, assets=ASSETS):
        self.assets = assets
        self.wall = wall
        self.token = token
        self.interval = interval
        self.heartbeat = heartbeat
        self.subscribers = set()
        self.stalled_until = 0.0
        self.frames = camera_frames()

    def authorized(self, token):
        return self.token is None or token == self.token

    async def run_simulation(self):
        while True:
            await asyncio.sleep(self.interval)
            base, seq, ops = self.wall.step(self.interval)
            message = canonical(patch_message(base, seq, ops))
            for subscriber in list(self.subscribers):
                subscriber.offer(message)

    async def handle(self, reader, writer):
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _ = lines[0].split(" ", 2)
        except ValueError:
            writer.close()
            return
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        url = urllib.parse.urlsplit(target)
        query = urllib.parse.parse_qs(url.query)
        path = url.path
        try:
            await self.route(method, path, query, headers, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def respond(self, writer, status, body, content_type="application/json", extra=None):
        if isinstance(body, str):
            body = body.encode()
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request"}.get(status, "")
        head = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
                "Cache-Control: no-store", "Connection: close"] + (extra or [])
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()

    async def route(self, method, path, query, headers, reader, writer):
        if path.startswith("/walls/assets/") and path.count("/") == 3:
            name = path.rsplit("/", 1)[1]
            if name.endswith((".js", ".css")) and os.path.isfile(os.path.join(self.assets, name)):
                kind = "text/javascript; charset=utf-8" if name.endswith(".js") else "text/css; charset=utf-8"
                with open(os.path.join(self.assets, name), "rb") as f:
                    return await self.respond(writer, 200, f.read(), kind)
        if path.startswith("/walls/") and path.count("/") == 2:
            with open(os.path.join(self.assets, "wall.html"), "rb") as f:
                return await self.respond(writer, 200, f.read(), "text/html; charset=utf-8")
        if path.startswith("/render/") and path.count("/") in (2, 3):
            # As the daemon does (WallPageRoutes.rendererPage): the preview page in renderer mode.
            with open(os.path.join(self.assets, "wall.html"), "rb") as f:
                page = f.read().replace(b"<title>Hypervision wall preview</title>", b"<title>Hypervision renderer</title>")
                page = page.replace(b"<body>", b'<body data-mode="renderer">')
                return await self.respond(writer, 200, page, "text/html; charset=utf-8")
        if path == "/basemap/config.json":
            # A raster tile source on this server, as a command room's own tile server would be.
            tiles = {"url": "/fake/tiles/{z}/{x}/{y}.png", "attribution": "fake tiles", "minZoom": 0, "maxZoom": 19,
                     "tileSize": 256, "subdomains": [], "tileMatrixPrefix": ""}
            return await self.respond(writer, 200, canonical({
                "tiles": tiles, "offline": {"url": "/basemap/offline.json", "bytes": 0}, "overlays": [],
                "zones": {"layer": "incidents", "days": 7}, "tracks": {"minutes": 10}}))
        if path == "/basemap/offline.json":
            return await self.respond(writer, 200, canonical(self.wall.basemap()))
        if path == f"/api/v1/walls/{WALL}/scene":
            bearer = headers.get("authorization", "")
            token = bearer[7:] if bearer.lower().startswith("bearer ") else (query.get("token") or [None])[0]
            if not self.authorized(token):
                return await self.respond(writer, 401, canonical({"code": "unauthorized", "message": "missing or unknown token"}))
            return await self.respond(writer, 200, canonical(self.wall.scene))
        if path == f"/api/v1/walls/{WALL}/stream" and headers.get("upgrade", "").lower() == "websocket":
            return await self.websocket(headers, reader, writer)
        if path.startswith("/api/v1/walls/"):
            return await self.respond(writer, 404, canonical({"code": "not_found", "message": "no such wall"}))
        if path == "/fake/stall" and method == "POST":
            seconds = float((query.get("seconds") or ["8"])[0])
            self.stalled_until = asyncio.get_running_loop().time() + seconds
            return await self.respond(writer, 200, canonical({"stalled": seconds}))
        if path.startswith("/fake/tiles/") and path.endswith(".png"):
            z, x, y = (int(v) for v in path[len("/fake/tiles/"):-4].split("/"))
            return await self.respond(writer, 200, TILES[(x + y) % 2], "image/png")
        if path.startswith("/fake/mjpeg/"):
            return await self.mjpeg(writer)
        return await self.respond(writer, 404, canonical({"code": "not_found", "message": path}))

    async def mjpeg(self, writer):
        # MJPEG over HTTP is multipart/x-mixed-replace; browsers accept PNG parts the same way.
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n"
                     b"Cache-Control: no-store\r\nConnection: close\r\n\r\n")
        i = 0
        while True:
            frame = self.frames[i % len(self.frames)]
            writer.write(b"--frame\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n" % len(frame) + frame + b"\r\n")
            await writer.drain()
            i += 1
            await asyncio.sleep(0.2)

    # --- WebSocket (RFC 6455), just enough: text frames, ping/pong, close

    async def websocket(self, headers, reader, writer):
        key = headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        await writer.drain()

        async def send(text):
            data = text.encode()
            n = len(data)
            header = bytes([0x81]) + (bytes([n]) if n < 126 else
                                      bytes([126]) + struct.pack(">H", n) if n < 65536 else
                                      bytes([127]) + struct.pack(">Q", n))
            writer.write(header + data)
            await writer.drain()

        async def close(code=1000):
            writer.write(bytes([0x88, 2]) + struct.pack(">H", code))
            await writer.drain()

        async def read_frame():
            b0, b1 = await reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", await reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", await reader.readexactly(8))[0]
            if n > 65536:
                raise ConnectionError("frame too large")
            mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(await reader.readexactly(n)))
            return b0 & 0x0F, payload

        async def error(code, message):
            await send(canonical({"type": "error", "code": code, "message": message}))
            await close(1008)

        try:
            opcode, payload = await asyncio.wait_for(read_frame(), 10)
        except asyncio.TimeoutError:
            return await error("bad_request", "no subscribe message within 10 s")
        if opcode != 1:
            return await error("bad_request", "expected a text frame with a subscribe message")
        try:
            request = json.loads(payload)
            assert isinstance(request, dict) and request.get("type") == "subscribe"
        except (ValueError, AssertionError):
            return await error("bad_request", "expected {\"type\":\"subscribe\",…}")
        if request.get("wall") != WALL:
            return await error("not_found", f"no wall {request.get('wall')!r}")
        if not self.authorized(request.get("token")):
            return await error("unauthorized", "missing or unknown token")
        if request.get("display") is not None:
            return await error("bad_request", "the fake server has no display views")
        since = request.get("since")

        subscriber = Subscriber()
        for message in self.wall.catch_up(since if isinstance(since, int) else None):
            subscriber.offer(canonical(message))
        self.subscribers.add(subscriber)
        queue = subscriber.queue
        loop = asyncio.get_running_loop()

        async def reader_task():
            # Answers pings, ends on close; the page sends nothing else after subscribe.
            while True:
                opcode, payload = await read_frame()
                if opcode == 8:
                    raise ConnectionError("closed by client")
                if opcode == 9:
                    writer.write(bytes([0x8A, len(payload)]) + payload)
                    await writer.drain()

        reading = asyncio.ensure_future(reader_task())
        try:
            next_heartbeat = loop.time() + self.heartbeat
            while not reading.done():
                if subscriber.overflowed:
                    return await error("slow_consumer", "subscriber too slow; resubscribe with since")
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=max(0.01, next_heartbeat - loop.time()))
                except asyncio.TimeoutError:
                    message = None
                while loop.time() < self.stalled_until and not reading.done():
                    await asyncio.sleep(0.1)  # test hook: a link that is open but silent
                if message is not None:
                    await send(message)
                if loop.time() >= next_heartbeat:
                    await send(canonical({"type": "heartbeat", "seq": self.wall.seq, "time": now_rfc3339()}))
                    next_heartbeat = loop.time() + self.heartbeat
        finally:
            self.subscribers.discard(subscriber)
            reading.cancel()


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", help="require this token (subscribe message, Authorization: Bearer or ?token=)")
    parser.add_argument("--golden", default=DEFAULT_GOLDEN, help="scene to start from (must have a map tile)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between patches")
    parser.add_argument("--heartbeat", type=float, default=2.0, help="seconds between heartbeats")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--assets", default=ASSETS, help="folder with wall.html, wall.js, wall.css")
    args = parser.parse_args()

    server = Server(Wall(args.golden, args.seed), args.token, args.interval, args.heartbeat, args.assets)
    listener = await asyncio.start_server(server.handle, args.host, args.port)
    port = listener.sockets[0].getsockname()[1]
    print(f"listening on http://{args.host}:{port}", flush=True)
    simulation = asyncio.ensure_future(server.run_simulation())
    async with listener:
        await listener.serve_forever()
    simulation.cancel()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
