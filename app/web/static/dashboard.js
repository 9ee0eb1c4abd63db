// Almanac dashboard: runs per hour as a stacked bar chart (Chart.js), drawn again whenever
// htmx swaps in a fresh dashboard body.
(function () {
  "use strict";
  var COLORS = {
    IDLE: "#9aa3b2", ACTIVE: "#6366f1", TRIGGER: "#f59e0b", STARTED: "#06b6d4",
    RUNNING: "#3b6fe2", PAUSED: "#eab308", SUCCESS: "#22a356", FAILED: "#e04848",
    TERMINATED: "#be185d", SKIPPED: "#c3c9d2", PENDING_APPROVAL: "#a855f7", REJECTED: "#f43f5e"
  };
  var chart = null;

  function draw() {
    var canvas = document.getElementById("runs-chart");
    var source = document.getElementById("runs-chart-data");
    if (!canvas || !source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    data.datasets.forEach(function (d) {
      d.backgroundColor = COLORS[d.status] || "#9aa3b2";
      d.borderWidth = 0; d.borderRadius = 2; d.maxBarThickness = 22;
    });
    if (chart) chart.destroy();
    chart = new Chart(canvas, {
      type: "bar", data: data,
      options: {
        animation: false, maintainAspectRatio: false, responsive: true,
        plugins: { legend: { position: "bottom", labels: { boxWidth: 10, boxHeight: 10, font: { size: 11 } } } },
        scales: {
          x: { stacked: true, grid: { display: false }, ticks: { font: { size: 10 }, maxRotation: 0, autoSkipPadding: 8 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0, font: { size: 10 } }, grid: { color: "#eef1f4" } }
        }
      }
    });
    canvas.dataset.drawn = String(data.datasets.length);
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", function (evt) {
    if (evt.target && evt.target.id === "dash-body") draw();
  });
})();
