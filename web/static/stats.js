/* Statistics: sitting vs standing per day and per week as inline SVG (no chart library). */
import { call, errorText, me } from "./api.js";
import { $, fillList, showMessage } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const W = 340;
const H = 170;
const M = { top: 8, right: 6, bottom: 22, left: 46 };    // room for "40 min"

function svg(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The axis' top for values up to v: 1, 2, 4, 5, 6, 8 or 10 times a power of ten. With `whole` (counts,
 * minutes) the middle tick is a whole number too, so no two ticks read the same ("0, 1, 1"). */
function niceMax(v, whole) {
  const p = 10 ** Math.floor(Math.log10(v > 0 ? v : 1));
  for (const m of [1, 2, 4, 5, 6, 8, 10]) {
    const top = m * p;
    if (top >= v && (!whole || Number.isInteger(top / 2))) return top;
  }
  return 10 * p;
}

/** Durations in minutes on an axis: in minutes while the axis ends within the hour (a few minutes
 * would read "0h, 0h, 0h" in hours), in hours from there on. */
function durationAxis(topMin) {
  const max = niceMax(topMin, true);
  if (max <= 60) return { max, scale: 1, unit: " min" };
  return { max: niceMax(topMin / 60, false) * 60, scale: 60, unit: " h" };
}

/** Stacked bars: items [{label, title, parts: [[cls, value], ...], goal}] -> an accessible <svg>.
 * `durations`: the values are minutes of time (labelled in minutes or hours); else counts. */
function barChart(items, { label, durations = false }) {
  const top = Math.max(...items.map((it) => Math.max(it.parts.reduce((s, [, v]) => s + v, 0), it.goal || 0)), 0);
  const axis = durations ? durationAxis(top) : { max: niceMax(top, true), scale: 1, unit: "" };
  const max = axis.max;
  const ih = H - M.top - M.bottom;
  const iw = W - M.left - M.right;
  const y = (v) => M.top + ih - (v / max) * ih;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label });
  root.append(svg("title", {}, label));
  for (const t of [0, max / 2, max]) {
    root.append(svg("line", { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t), class: "axis" }));
    const tick = t === 0 ? "0" : `${+(t / axis.scale).toFixed(1)}${axis.unit}`;
    root.append(svg("text", { x: M.left - 4, y: y(t) + 4, "text-anchor": "end" }, tick));
  }
  const slot = iw / Math.max(items.length, 1);
  const bw = Math.min(34, slot * 0.64);
  items.forEach((it, i) => {
    const x = M.left + slot * i + (slot - bw) / 2;
    let acc = 0;
    const g = svg("g");
    g.append(svg("title", {}, it.title));
    for (const [cls, v] of it.parts) {
      if (!(v > 0)) continue;
      const y0 = y(acc + v);
      g.append(svg("rect", { x, y: y0, width: bw, height: Math.max(0.5, y(acc) - y0), class: cls, rx: 2 }));
      acc += v;
    }
    root.append(g);
    if (it.goal > 0) {
      root.append(svg("line", { x1: x - 3, x2: x + bw + 3, y1: y(it.goal), y2: y(it.goal), class: "goal" }));
    }
    root.append(svg("text", { x: x + bw / 2, y: H - 6, "text-anchor": "middle" }, it.label));
  });
  return root;
}

const minutes = (min) => (typeof min === "number" ? min : 0);
const weekday = (iso) => new Date(`${iso}T12:00:00`).toLocaleDateString([], { weekday: "short" });
const shortDate = (iso) => new Date(`${iso}T12:00:00`).toLocaleDateString([], { day: "numeric", month: "short" });
const mins = (m) => `${Math.round(m || 0)} min`;
/** The days a week record covers, as dates ("30 Nov – 6 Dec"): never its ISO name. */
const span = (w) => (w.first_day === w.last_day ? shortDate(w.first_day)
  : `${shortDate(w.first_day)} – ${shortDate(w.last_day)}`);

function put(where, node) {
  const box = $(`[data-chart="${where}"]`);
  box.replaceChildren(node);
  box.removeAttribute("aria-busy");
}

function progress(which, fraction, text, goal, standing) {
  const bar = $(`[data-progress="${which}"]`);
  const pct = Math.max(0, Math.min(100, Math.round((fraction || 0) * 100)));
  bar.setAttribute("aria-valuenow", String(pct));
  bar.firstElementChild.style.width = `${pct}%`;
  const line = $(`[data-k="${which}-text"]`);
  line.textContent = text;
  line.dataset.goalMin = typeof goal === "number" ? String(goal) : "";
  line.dataset.standingMin = typeof standing === "number" ? String(standing) : "";
}

/** "This week (30 Nov – 6 Dec): 45 min of the week's 400 min goal; goal up to today (Mon – Thu 3 Dec): 240 min".
 * The week's goal is that of all its working days, Monday to Sunday; the one up to today is beside it. */
function weekText(w) {
  const dates = `${shortDate(w.monday)} – ${shortDate(w.sunday)}`;
  const stood = mins(w.standing_min);
  if (typeof w.week_goal_min !== "number") return `This week (${dates}): ${stood} standing, no standing goal`;
  const whole = `This week (${dates}): ${stood} of the week's ${mins(w.week_goal_min)} goal`;
  if (w.last_day === w.sunday || typeof w.standing_goal_min !== "number") return whole;
  const upTo = w.first_day === w.last_day ? `${weekday(w.last_day)} ${shortDate(w.last_day)}`
    : `${weekday(w.first_day)} – ${weekday(w.last_day)} ${shortDate(w.last_day)}`;
  return `${whole}; goal up to today (${upTo}): ${mins(w.standing_goal_min)}`;
}

function mine(report) {
  const users = (report && report.users) || {};
  return users[me] || users[report.active_user] || Object.values(users)[0] || null;
}

function renderWeek(report) {
  const u = mine(report);
  if (!u) { put("days", document.createTextNode("No data yet.")); return; }
  const days = u.days || [];
  put("days", barChart(days.map((x) => ({
    label: weekday(x.date),
    title: `${shortDate(x.date)}: standing ${mins(x.standing_min)}, in between ${mins(x.between_min)}, sitting ${mins(x.sitting_min)}`,
    parts: [["b-stand", minutes(x.standing_min)], ["b-between", minutes(x.between_min)],
      ["b-sit", minutes(x.sitting_min)]],
    goal: minutes(x.standing_goal_min),
  })), { durations: true, label: "Time sitting and standing per day, last 7 days" }));
  put("changes", barChart(days.map((x) => ({
    label: weekday(x.date),
    title: `${shortDate(x.date)}: ${x.posture_changes} posture changes`,
    parts: [["b-changes", x.posture_changes || 0]],
  })), { label: "Posture changes per day, last 7 days" }));

  const today = days[days.length - 1] || {};
  $('[data-k="today"]').textContent = String(Math.round(today.standing_min || 0));
  $('[data-k="changes"]').textContent = String(today.posture_changes || 0);
  $('[data-k="confirmed"]').textContent = String(days.reduce((s, x) => s + ((x.reminders && x.reminders.confirmed) || 0), 0));
  progress("today", today.goal_progress, typeof today.standing_goal_min === "number"
    ? `Today: ${mins(today.standing_min)} of ${mins(today.standing_goal_min)} standing`
    : `Today: ${mins(today.standing_min)} standing, no standing goal today`, today.standing_goal_min,
  today.standing_min);
  const week = (u.weeks || [])[(u.weeks || []).length - 1];
  if (week) {
    // The bar is the whole week's goal (Monday to Sunday); the goal of its days up to today is beside it.
    progress("week", week.week_goal_progress, weekText(week), week.week_goal_min, week.standing_min);
    $('[data-k="week-text"]').dataset.goalSoFarMin = typeof week.standing_goal_min === "number"
      ? String(week.standing_goal_min) : "";
  }
  $("[data-table]").replaceChildren(...days.map((x) => {
    const tr = document.createElement("tr");
    for (const [text, n] of [[`${weekday(x.date)} ${shortDate(x.date)}`, false], [mins(x.sitting_min), true],
      [mins(x.standing_min), true], [String(x.posture_changes || 0), true],
      [typeof x.goal_progress === "number" ? `${Math.round(x.goal_progress * 100)} %` : "–", true]]) {
      const td = document.createElement("td");
      td.textContent = text;
      if (n) td.className = "n";
      tr.append(td);
    }
    return tr;
  }));
  fillList($("[data-notes]"), (report.notes || []).slice(-1));
}

function renderMonth(report) {
  const u = mine(report);
  if (!u) { put("weeks", document.createTextNode("No data yet.")); return; }
  put("weeks", barChart((u.weeks || []).map((w) => ({
    label: shortDate(w.first_day),
    title: `${span(w)}: standing ${mins(w.standing_min)}, sitting ${mins(w.sitting_min)}`
      + (typeof w.standing_goal_min === "number" ? `, goal of these days ${mins(w.standing_goal_min)}` : ""),
    parts: [["b-stand", minutes(w.standing_min)], ["b-between", minutes(w.between_min)],
      ["b-sit", minutes(w.sitting_min)]],
    goal: minutes(w.standing_goal_min),
  })), { durations: true, label: "Time sitting and standing per week, last 4 weeks" }));
}

function load(days, render) {
  const q = new URLSearchParams({ days: String(days) });
  if (me) q.set("user", me);
  return call("GET", `/stats?${q}`)
    .then((r) => { if (r.ok) render(r.data); else showMessage(errorText(r)); })
    .catch(() => showMessage("could not load the statistics; check the connection"));
}

load(7, renderWeek).then(() => load(28, renderMonth));
