// The sample browser of report.html (variformer.eval_harness.html_report). Plain JavaScript, no library.
// Data: the JSON in #report-data, {runs: [{label, model}], tasks: [{name, scores: [...], runs: [rows | null]}]},
// a row being [id, prompt, prediction, target, correct (true / false / null), [score per name]].
// Only the current page of rows is in the document; every string from the data is set with textContent.
"use strict";
(function () {
  var PAGE_SIZE = 25;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var table = document.getElementById("sample-table");
  var fold = Number(table.getAttribute("data-fold"));
  var ui = {};
  ["task", "run", "search", "wrong", "sort", "disagree", "run-b", "count", "page", "previous", "next"]
    .forEach(function (id) { ui[id] = document.getElementById(id); });
  var page = 0;
  var lowered = new Map();  // rows -> their searchable text, lower case (built on the first search)

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function addOption(select, value, text) {
    var node = element("option", text);
    node.value = String(value);
    select.appendChild(node);
  }

  function currentTask() { return data.tasks[Number(ui.task.value)]; }
  function runRows(task, run) { return task.runs[run] || []; }
  function comparing() { return Boolean(ui.disagree && ui.disagree.checked); }

  function searchable(rows) {
    if (!lowered.has(rows)) {
      lowered.set(rows, rows.map(function (row) {
        return (row[0] + "\n" + row[1] + "\n" + row[2] + "\n" + row[3]).toLowerCase();
      }));
    }
    return lowered.get(rows);
  }

  function partners(task) {
    var byId = new Map();
    runRows(task, Number(ui["run-b"].value)).forEach(function (row) { byId.set(row[0], row); });
    return byId;
  }

  // The rows to show, filtered and sorted: [{a: row, b: row of the other run or null}].
  function selection() {
    var task = currentTask();
    var rows = runRows(task, Number(ui.run.value));
    var query = ui.search.value.trim().toLowerCase();
    var texts = query ? searchable(rows) : null;
    var other = comparing() ? partners(task) : null;
    var chosen = [];
    rows.forEach(function (row, index) {
      var partner = other ? other.get(row[0]) : null;
      if (other && (!partner || partner[2] === row[2])) return;
      if (query && texts[index].indexOf(query) < 0 &&
          !(partner && partner[2].toLowerCase().indexOf(query) >= 0)) return;
      if (ui.wrong.checked && row[4] !== false && !(partner && partner[4] === false)) return;
      chosen.push({a: row, b: partner});
    });
    return sortRows(chosen);
  }

  function sortRows(items) {
    if (!ui.sort.value) return items;
    var parts = ui.sort.value.split(":"), score = Number(parts[0]), sign = parts[1] === "asc" ? 1 : -1;
    return items.slice().sort(function (x, y) {
      var p = x.a[5][score], q = y.a[5][score];
      if (p === null || q === null) return (p === null) - (q === null);  // samples without the score last
      return sign * (p - q);
    });
  }

  function number(value) {
    if (value === null || value === undefined) return "–";
    return Math.abs(value) >= 10 ? value.toFixed(2) : value.toFixed(4);
  }

  function mark(correct) { return correct === true ? "✓" : correct === false ? "✗" : ""; }

  function textCell(text) {
    var cell = element("td", undefined, "text");
    if (text.length <= fold) {
      cell.textContent = text;
      return cell;
    }
    var details = element("details"), summary = element("summary");
    var head = Math.floor(fold / 3);  // the start and the end of a long text: a primer's question is at its end
    summary.appendChild(element("span", text.slice(0, head) + " … " + text.slice(text.length - (fold - head)),
                                "preview"));
    summary.appendChild(element("span", " show all " + text.length + " characters", "more"));
    summary.appendChild(element("span", "show less", "less"));
    details.appendChild(summary);
    details.appendChild(element("div", text, "full"));
    cell.appendChild(details);
    return cell;
  }

  function headings(task) {
    var a = data.runs[Number(ui.run.value)].label, b = data.runs[Number(ui["run-b"] ? ui["run-b"].value : 0)];
    if (!comparing()) return ["id", "prompt", "prediction", "target", "right"].concat(task.scores);
    var scores = task.scores.map(function (name) { return name + " " + a + " / " + b.label; });
    return ["id", "prompt", "target", "prediction " + a, "prediction " + b.label, "right " + a,
            "right " + b.label].concat(scores);
  }

  function rowElement(item) {
    var tr = element("tr"), row = item.a, other = item.b;
    tr.appendChild(element("td", row[0], "id"));
    tr.appendChild(textCell(row[1]));
    if (other) {
      [row[3], row[2], other[2]].forEach(function (text) { tr.appendChild(textCell(text)); });
      tr.appendChild(element("td", mark(row[4]), "mark"));
      tr.appendChild(element("td", mark(other[4]), "mark"));
      row[5].forEach(function (value, index) {
        tr.appendChild(element("td", number(value) + " / " + number(other[5][index]), "score"));
      });
    } else {
      tr.appendChild(textCell(row[2]));
      tr.appendChild(textCell(row[3]));
      tr.appendChild(element("td", mark(row[4]), "mark"));
      row[5].forEach(function (value) { tr.appendChild(element("td", number(value), "score")); });
    }
    if (row[4] === false || (other && other[4] === false)) tr.className = "wrong";
    return tr;
  }

  function render() {
    var task = currentTask(), items = selection();
    var pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    var shown = items.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    var head = element("tr");
    headings(task).forEach(function (text) { head.appendChild(element("th", text)); });
    table.tHead.replaceChildren(head);
    table.tBodies[0].replaceChildren.apply(table.tBodies[0], shown.map(rowElement));
    var total = runRows(task, Number(ui.run.value)).length;
    ui.count.textContent = items.length
      ? "Samples " + (page * PAGE_SIZE + 1) + "–" + (page * PAGE_SIZE + shown.length) + " of " + items.length +
        (items.length < total ? " (of " + total + " in this task)" : "")
      : "No sample matches (" + total + " in this task).";
    ui.page.textContent = "page " + (page + 1) + " of " + pages;
    ui.previous.disabled = page === 0;
    ui.next.disabled = page >= pages - 1;
  }

  function fillSort() {
    var task = currentTask();
    ui.sort.replaceChildren();
    addOption(ui.sort, "", "sample order");
    task.scores.forEach(function (name, index) {
      addOption(ui.sort, index + ":desc", name + ", highest first");
      addOption(ui.sort, index + ":asc", name + ", lowest first");
    });
  }

  function restart() { page = 0; render(); }

  data.tasks.forEach(function (task, index) { addOption(ui.task, index, task.name); });
  data.runs.forEach(function (run, index) {
    addOption(ui.run, index, run.label + ": " + run.model);
    if (ui["run-b"]) addOption(ui["run-b"], index, run.label);
  });
  if (ui["run-b"] && data.runs.length > 1) ui["run-b"].value = "1";
  fillSort();
  ui.task.addEventListener("change", function () { fillSort(); restart(); });
  ["run", "sort", "wrong", "disagree", "run-b"].forEach(function (id) {
    if (ui[id]) ui[id].addEventListener("change", restart);
  });
  ui.search.addEventListener("input", restart);
  ui.previous.addEventListener("click", function () { page -= 1; render(); });
  ui.next.addEventListener("click", function () { page += 1; render(); });
  if (data.tasks.length) render();
  performance.mark("report-rendered");
  document.body.setAttribute("data-ready", "true");
})();
