(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var groups = Array.prototype.slice.call(document.querySelectorAll("#findings details.rule"));
  var text = document.getElementById("filter-text");
  var severity = document.getElementById("filter-severity");
  var status = document.getElementById("filter-status");
  var counter = document.getElementById("filter-count");

  function applyFilter() {
    var needle = text.value.trim().toLowerCase();
    var wantSeverity = severity.value;
    var wantStatus = status.value;
    var active = needle !== "" || wantSeverity !== "" || wantStatus !== "";
    var shown = 0;
    groups.forEach(function (group) {
      var visible = 0;
      var severityOk = !wantSeverity || group.getAttribute("data-severity") === wantSeverity;
      group.querySelectorAll("tbody tr").forEach(function (row) {
        var ok = severityOk &&
          (!wantStatus || row.getAttribute("data-status") === wantStatus) &&
          (!needle || row.textContent.toLowerCase().indexOf(needle) !== -1);
        row.classList.toggle("hidden", !ok);
        if (ok) { visible += 1; }
      });
      group.classList.toggle("hidden", active && visible === 0);
      if (active && visible > 0) { group.open = true; }
      shown += visible;
    });
    counter.textContent = active ? shown + " matching rows shown" : "";
  }

  [text, severity, status].forEach(function (control) {
    if (control) { control.addEventListener("input", applyFilter); }
  });

  function setAll(open) {
    groups.forEach(function (group) { group.open = open; });
  }
  document.getElementById("expand-all").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { setAll(false); });
  window.addEventListener("beforeprint", function () { setAll(true); });

  function cellValue(row, index) {
    var cell = row.children[index];
    return cell ? cell.textContent.trim() : "";
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (header, index) {
      header.setAttribute("tabindex", "0");
      function sort() {
        var ascending = header.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index);
          var y = cellValue(b, index);
          var nx = parseFloat(x.replace(/,/g, ""));
          var ny = parseFloat(y.replace(/,/g, ""));
          var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      }
      header.addEventListener("click", sort);
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
      });
    });
  });
})();
