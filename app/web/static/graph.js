// Almanac flow graph: a group's tasks and dependency edges (cytoscape + dagre), nodes
// coloured by their run's status, redrawn from the page's SSE stream ("graph" events).
(function () {
  "use strict";
  // Colours come from the page's theme (theme.css): a status's tint and text, the edges'
  // colours, the edge labels' ground; read again when the theme changes.
  var STATUSES = ["idle", "active", "trigger", "started", "running", "paused", "success", "failed",
                  "terminated", "skipped", "pending", "rejected", "none"];
  function themed(name) {
    return window.getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  function palette() {
    var colors = {};
    STATUSES.forEach(function (s) {
      colors["s-" + s] = [themed("--s-" + s + "-bg"), themed("--s-" + s + "-fg")];
    });
    return {
      nodes: colors,
      edges: { success: themed("--edge-success"), failure: themed("--edge-failure"),
               done: themed("--edge-done") },
      label: themed("--text-2"), ground: themed("--card")
    };
  }
  var cy = null, shape = "", pulse = null, last = null;

  function style(colors) {
    return [
      { selector: "node", style: {
        "shape": "round-rectangle", "width": 156, "height": 48, "label": "data(caption)",
        "text-wrap": "wrap", "text-max-width": 146, "text-valign": "center", "text-halign": "center",
        "font-size": 11, "font-family": "DejaVu Sans, sans-serif", "line-height": 1.35,
        "background-color": "data(bg)", "color": "data(fg)", "border-width": 2,
        "border-color": "data(fg)" } },
      { selector: "node[status = 'RUNNING'], node[status = 'TRIGGER'], node[status = 'STARTED']",
        style: { "border-width": 3 } },
      { selector: "node:selected", style: { "overlay-opacity": 0.08 } },
      { selector: "edge", style: {
        "curve-style": "bezier", "width": 2, "line-color": "data(color)",
        "target-arrow-color": "data(color)", "target-arrow-shape": "triangle",
        "label": "data(condition)", "font-size": 9, "color": colors.label,
        "text-background-color": colors.ground, "text-background-opacity": 1,
        "text-background-padding": 2 } },
      { selector: "edge[condition = 'failure']", style: { "line-style": "dashed" } },
      { selector: "edge[condition = 'done']", style: { "line-style": "dotted" } }
    ];
  }

  function decorate(graph, colors) {
    graph.nodes.forEach(function (n) {
      var c = colors.nodes[n.data.css] || colors.nodes["s-none"];
      n.data.bg = c[0]; n.data.fg = c[1];
    });
    graph.edges.forEach(function (e) {
      e.data.color = colors.edges[e.data.condition] || colors.edges.done;
    });
  }

  function signature(graph) {
    return graph.nodes.map(function (n) { return n.data.id; }).join(",") + "|" +
      graph.edges.map(function (e) { return e.data.id + e.data.condition; }).join(",");
  }

  function ensure(container) {
    if (cy && cy.container() === container) return;
    if (cy) cy.destroy();
    cy = cytoscape({ container: container, style: style(palette()), minZoom: 0.2, maxZoom: 3,
                     boxSelectionEnabled: false });
    shape = "";
    cy.on("tap", "node", function (evt) {
      var d = evt.target.data();
      window.location.href = d.run ? "/task-runs/" + d.run : "/tasks/" + d.tid;
    });
    cy.on("mouseover", "node", function () { container.style.cursor = "pointer"; });
    cy.on("mouseout", "node", function () { container.style.cursor = ""; });
  }

  function render(container, graph) {
    ensure(container);
    last = graph;
    decorate(graph, palette());
    var sig = signature(graph);
    if (sig !== shape) {
      cy.elements().remove();
      cy.add(graph.nodes.concat(graph.edges));
      cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 28, rankSep: 70, padding: 24 }).run();
      cy.fit(undefined, 30);
      if (cy.zoom() > 1.4) { cy.zoom(1.4); cy.center(); }
      shape = sig;
    } else {
      graph.nodes.forEach(function (n) { cy.getElementById(n.data.id).data(n.data); });
    }
    container.dataset.groupRun = graph.group_run || "";
    container.dataset.rendered = String(graph.nodes.length);
    var status = document.getElementById("flow-status");
    if (status) status.textContent = graph.group_run ?
      "group run #" + graph.group_run + " · " + graph.group_run_status : "no group run yet";
    pickerFollows(graph);
    startPulse();
  }

  // The group-run picker says what the graph says: the shown run's status as it changes, and
  // a group run that started since the page was drawn.
  function pickerFollows(graph) {
    var picker = document.querySelector("select[name=group_run]");
    if (!picker || !graph.group_run) return;
    var option = picker.querySelector("option[value='" + graph.group_run + "']");
    if (!option) {
      option = document.createElement("option");
      option.value = String(graph.group_run);
      option.textContent = "#" + graph.group_run + " · ";
      picker.insertBefore(option, picker.options[1] || null);
    }
    var parts = option.textContent.split(" · ");
    parts[1] = graph.group_run_status;
    option.textContent = parts.join(" · ");
  }

  function startPulse() {
    if (pulse) return;
    var on = false;
    pulse = window.setInterval(function () {
      if (!cy || cy.destroyed()) { window.clearInterval(pulse); pulse = null; return; }
      on = !on;
      cy.nodes("[status = 'RUNNING']").style("border-opacity", on ? 0.35 : 1);
    }, 600);
  }

  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    if (!evt.target || evt.target.id !== "graph" || evt.detail.type !== "graph") return;
    evt.preventDefault();
    render(evt.target, JSON.parse(evt.detail.data));
  });

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-graph]");
    if (!button || !cy) return;
    var action = button.dataset.graph;
    var center = { x: cy.width() / 2, y: cy.height() / 2 };
    if (action === "in") cy.zoom({ level: cy.zoom() * 1.25, renderedPosition: center });
    else if (action === "out") cy.zoom({ level: cy.zoom() / 1.25, renderedPosition: center });
    else cy.fit(undefined, 30);
  });
  // A new theme: the same graph in the new colours, where it stands.
  document.addEventListener("almanac:theme", function () {
    if (!cy || cy.destroyed() || !last) return;
    var colors = palette();
    cy.style(style(colors));
    decorate(last, colors);
    last.nodes.forEach(function (n) { cy.getElementById(n.data.id).data(n.data); });
    last.edges.forEach(function (e) { cy.getElementById(e.data.id).data(e.data); });
  });
  window.almanacGraph = function () { return cy; };
})();
