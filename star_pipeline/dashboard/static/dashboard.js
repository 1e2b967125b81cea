// Draws each figure a page carries (<script type="application/json" data-chart="ID">) into the element ID.
(function () {
  "use strict";
  if (typeof Plotly === "undefined") { return; }
  document.querySelectorAll("script[data-chart]").forEach(function (spec) {
    var target = document.getElementById(spec.dataset.chart);
    if (!target) { return; }
    var figure = JSON.parse(spec.textContent);
    Plotly.newPlot(target, figure.data, figure.layout, {displaylogo: false, responsive: true});
  });
})();
