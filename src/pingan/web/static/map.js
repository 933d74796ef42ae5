/* Maps without an online tile server: county outlines (and grids, when the geo service has them) drawn from
   our own GeoJSON; cases coloured by status; live updates by server-sent events. A tile URL is optional. */
"use strict";
(function () {
  if (!window.L) return;
  const COLORS = { received: "#6b46c1", registered: "#b7791f", assigned: "#c05621", signed: "#2b6cb0",
    in_progress: "#2b6cb0", suspended: "#718096", feedback: "#2f855a", verified: "#276749", closed: "#4a5568",
    transfer_pending: "#805ad5" };
  function colour(c) { return c.overdue ? "#c53030" : (COLORS[c.status] || "#4a5568"); }
  function base(el) {
    const map = L.map(el, { zoomControl: true, attributionControl: true, preferCanvas: true });
    const tiles = el.dataset.tiles;
    if (tiles) L.tileLayer(tiles, { maxZoom: 18, attribution: "tiles" }).addTo(map);
    return map;
  }
  async function json(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }

  const el = document.getElementById("map");
  if (el) {
    const map = base(el);
    map.setView([29.2, 113.2], 8);
    const outlineUrl = el.dataset.geo === "1" ? "/api/v1/geo/map/divisions?level=county&zoom=9" : "/web/api/counties.geojson";
    let counties = null;
    const outlines = (url) => json(url).then(gj => {
      counties = L.geoJSON(gj, { style: { color: "#1a365d", weight: 1.5, fillColor: "#bee3f8", fillOpacity: 0.35 },
        onEachFeature: (f, l) => l.bindTooltip((f.properties && f.properties.name) || "") }).addTo(map);
      counties.bringToBack();
      try { map.fitBounds(counties.getBounds()); } catch (_) { /* empty */ }
      el.dataset.outline = String(gj.features.length);
    });
    // The geo service's outlines when it is there; else the county outlines shipped in data/yueyang.
    outlines(outlineUrl).catch(() => outlines("/web/api/counties.geojson")).catch(() => {});
    if (el.dataset.grids === "1") {
      // Grids are many: drawn per county once the map is zoomed in far enough to see them.
      const loaded = new Set();
      map.on("moveend", () => {
        if (!counties || map.getZoom() < 12) return;
        counties.eachLayer(layer => {
          const code = layer.feature && (layer.feature.properties.code || layer.feature.id);
          if (!code || loaded.has(code) || !map.getBounds().intersects(layer.getBounds())) return;
          loaded.add(code);
          json(`/api/v1/geo/map/grids?parent=${code}&zoom=14`).then(gj => {
            L.geoJSON(gj, { style: { color: "#2c7a7b", weight: 0.7, fill: false },
              onEachFeature: (f, l) => l.bindTooltip((f.properties && f.properties.name) || "") }).addTo(map);
            el.dataset.gridCount = String((Number(el.dataset.gridCount) || 0) + gj.features.length);
          }).catch(() => loaded.delete(code));
        });
      });
    }
    const markers = new Map();
    function put(c) {
      const old = markers.get(c.id);
      if (old) map.removeLayer(old);
      if (["revisited", "rejected", "merged", "transferred"].includes(c.status)) { markers.delete(c.id); return; }
      const m = L.circleMarker([c.lat, c.lon], { radius: 5, color: "#fff", weight: 1, fillColor: colour(c), fillOpacity: 0.9 })
        .bindPopup(`<a href="/cases/${c.id}">${c.code}</a> ${c.label}<br>${c.title.replace(/[<>&]/g, "")}`);
      m.addTo(map); markers.set(c.id, m);
      el.dataset.markers = String(markers.size);
    }
    json("/web/api/map-cases").then(d => d.cases.forEach(put)).catch(() => {});
    const state = document.getElementById("live-state");
    if (window.EventSource) {
      const es = new EventSource("/web/api/live");
      es.addEventListener("open", () => { if (state) state.textContent = "● " + (document.body.dataset.lang === "en" ? "live" : "实时"); });
      es.addEventListener("case", ev => { const c = JSON.parse(ev.data); put(c); el.dataset.lastLive = String(c.id); });
      es.addEventListener("error", () => { if (state) state.textContent = "○"; });
      window.addEventListener("beforeunload", () => es.close());
    }
  }

  const cm = document.getElementById("case-map");
  if (cm) {
    const lat = Number(cm.dataset.lat), lon = Number(cm.dataset.lon);
    const map = base(cm);
    map.setView([lat, lon], 13);
    json("/web/api/counties.geojson").then(gj => L.geoJSON(gj, { style: { color: "#1a365d", weight: 1, fillOpacity: 0.08 } }).addTo(map)).catch(() => {});
    L.circleMarker([lat, lon], { radius: 8, color: "#fff", weight: 2, fillColor: COLORS[cm.dataset.status] || "#c53030", fillOpacity: 1 }).addTo(map);
  }
})();
