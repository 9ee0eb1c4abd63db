// Almanac dashboard: runs per hour as a stacked bar chart (Chart.js), drawn again whenever
// htmx swaps in a fresh dashboard body.
(function () {
  "use strict";
  var chart = null;

  // Axis, grid and legend colours follow the page's theme (theme.css).
  function themed(name) {
    return window.getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function draw() {
    var canvas = document.getElementById("runs-chart");
    var source = document.getElementById("runs-chart-data");
    if (!canvas || !source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    data.datasets.forEach(function (d) {
      var key = d.status === "PENDING_APPROVAL" ? "pending" : String(d.status).toLowerCase();
      d.backgroundColor = themed("--s-" + key + "-fg") || themed("--s-none-fg");
      d.borderWidth = 0; d.borderRadius = 2; d.maxBarThickness = 22;
    });
    if (chart) chart.destroy();
    chart = new Chart(canvas, {
      type: "bar", data: data,
      options: {
        animation: false, maintainAspectRatio: false, responsive: true,
        color: themed("--muted"),
        plugins: { legend: { position: "bottom", labels: { color: themed("--text-2"), boxWidth: 10, boxHeight: 10, font: { size: 11 } } } },
        scales: {
          x: { stacked: true, grid: { display: false }, border: { color: themed("--line-strong") },
               ticks: { color: themed("--muted"), font: { size: 10 }, maxRotation: 0, autoSkipPadding: 8 } },
          y: { stacked: true, beginAtZero: true, border: { color: themed("--line-strong") },
               ticks: { color: themed("--muted"), precision: 0, font: { size: 10 } }, grid: { color: themed("--line-soft") } }
        }
      }
    });
    canvas.dataset.drawn = String(data.datasets.length);
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("almanac:theme", function () { if (chart) draw(); });
  document.addEventListener("htmx:afterSettle", function (evt) {
    if (evt.target && evt.target.id === "dash-body") draw();
  });
})();
