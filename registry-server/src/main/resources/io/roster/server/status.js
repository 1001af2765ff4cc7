// The node's status page: reads /status (JSON) and /metrics (Prometheus text) every 2 s and shows
// them. Every value is set as text, never as markup: registry names and reasons come from users.
"use strict";

const REFRESH_MILLIS = 2000;
let lastApplied = null;

function text(id, value) {
  document.getElementById(id).textContent = value;
}

function flag(id, good) {
  const el = document.getElementById(id);
  el.textContent = good ? "yes" : "no";
  el.className = "value " + (good ? "ok" : "bad");
}

function cell(row, value, numeric) {
  const td = document.createElement("td");
  td.textContent = value;
  if (numeric) {
    td.className = "num";
  }
  row.appendChild(td);
}

// The sum of every sample of one metric in a Prometheus text scrape, or null if it has none.
function metric(scrape, name) {
  let sum = null;
  for (const line of scrape.split("\n")) {
    if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
      const value = Number(line.substring(line.lastIndexOf(" ") + 1));
      if (!Number.isNaN(value)) {
        sum = (sum || 0) + value;
      }
    }
  }
  return sum;
}

function render(status) {
  text("node", status.nodeId);
  text("role", status.role);
  text("incarnation", String(status.incarnation));
  flag("live", status.health.live);
  flag("ready", status.health.ready);
  text("reasons", status.health.reasons.join("; "));
  const body = document.getElementById("groups");
  const rows = [];
  let registrations = 0;
  let applied = 0;
  for (const g of status.groups) {
    applied += g.appliedIndex;
    registrations += Object.values(g.registrations).reduce((a, n) => a + n, 0);
    const row = document.createElement("tr");
    row.dataset.group = g.name;
    cell(row, g.name);
    cell(row, g.raftRole);
    cell(row, g.leader === null ? "none" : g.leader);
    cell(row, g.term < 0 ? "-" : String(g.term), true);
    cell(row, g.commitIndex < 0 ? "-" : String(g.commitIndex), true);
    cell(row, String(g.appliedIndex), true);
    cell(row, g.commitIndex < 0 ? "-" : String(Math.max(0, g.commitIndex - g.appliedIndex)), true);
    cell(row, g.sessionOpen ? "open" : "closed");
    cell(row, Object.entries(g.registrations).map(([name, n]) => name + " " + n).join(", "));
    rows.push(row);
  }
  body.replaceChildren(...rows);
  text("registrations", String(registrations));
  // Raft entries applied per second over every group (an entry holds a batch of commands)
  const now = performance.now();
  if (lastApplied !== null && now > lastApplied.at && applied >= lastApplied.count) {
    text("applied", ((applied - lastApplied.count) * 1000 / (now - lastApplied.at)).toFixed(0));
  }
  lastApplied = {count: applied, at: now};
}

function renderMetrics(scrape) {
  const sessions = metric(scrape, "roster_sessions_open");
  text("sessions", sessions === null ? "-" : String(sessions));
  const changes = metric(scrape, "roster_server_leader_changes_seen_total");
  text("leaderChanges", changes === null ? "-" : String(changes));
}

async function refresh() {
  try {
    const status = await fetch("status", {cache: "no-store"});
    if (!status.ok) {
      throw new Error("/status answered " + status.status);
    }
    render(await status.json());
    const metrics = await fetch("metrics", {cache: "no-store"});
    if (metrics.ok) {
      renderMetrics(await metrics.text());
    }
    text("updated", "updated " + new Date().toLocaleTimeString());
    text("error", "");
    document.body.dataset.loaded = "true";
  } catch (e) {
    text("error", "the node does not answer: " + e.message);
  } finally {
    setTimeout(refresh, REFRESH_MILLIS);
  }
}

refresh();
