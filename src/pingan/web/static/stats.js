/* Statistics charts (ECharts, vendored): one bar series per KPI by the chosen group. */
"use strict";
(function () {
  const el = document.getElementById("chart");
  const src = document.getElementById("chart-data");
  if (!el || !src || !window.echarts) return;
  const d = JSON.parse(src.textContent);
  const keys = Object.keys(d.kpis);
  const chart = echarts.init(el, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis", valueFormatter: v => (v == null ? "—" : v.toFixed(1) + "%") },
    legend: { type: "scroll", top: 0 },
    grid: { left: 40, right: 10, top: 40, bottom: 80 },
    xAxis: { type: "category", data: d.rows.map(r => r.group), axisLabel: { rotate: 30, interval: 0, fontSize: 10 } },
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    series: keys.map(k => ({ name: d.kpis[k], type: "bar",
      data: d.rows.map(r => r.values[k]) })),
  });
  window.addEventListener("resize", () => chart.resize());
})();
