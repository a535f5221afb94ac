/* The plan form's editable lists, each row built as elements (never HTML): quiet periods, holidays
 * and a person's own ramp; and times and dates in the phone's own way of writing them.
 */

// The phone's locale decides: "9:00 AM" where people read 12-hour clocks, "09:00" (as its time
// fields show it) where they read 24-hour ones.
const cycle = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions().hourCycle;
const clock = new Intl.DateTimeFormat(undefined, {
  hour: cycle === "h23" || cycle === "h24" ? "2-digit" : "numeric", minute: "2-digit",
});
const calendar = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric" });

/** "13:00" as this phone writes a time of day ("1:00 PM" or "13:00"); "" for no time. */
export function localTime(hhmm) {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm || "");
  return m ? clock.format(new Date(2000, 0, 1, Number(m[1]), Number(m[2]))) : "";
}

/** "2026-12-24" as this phone writes a date ("Thu, Dec 24, 2026"). */
export function localDate(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  return m ? calendar.format(new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : iso;
}

function el(tag, props, ...children) {
  const node = Object.assign(document.createElement(tag), props || {});
  node.append(...children);
  return node;
}

function labelled(text, input) {
  const id = `f${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return el("div", { className: "field" }, el("label", { htmlFor: id, textContent: text }), input);
}

function removeButton(what, row, onRemove) {
  const b = el("button", { type: "button", className: "btn btn-small btn-quiet", textContent: "Remove" });
  b.setAttribute("aria-label", `Remove ${what}`);
  b.addEventListener("click", () => { row.remove(); onRemove(); });
  return b;
}

/** A quiet period: a title with its Remove button, then From and Until, each half the width. */
export function quietRow(box, [from, until], onChange) {
  const n = box.children.length + 1;
  const row = el("div", { className: "quiet-row" });
  row.dataset.quietRow = "";
  row.dataset.testid = "plan-quiet-row";
  const inputs = [from, until].map((value) => {
    const input = el("input", { type: "time", value: value || "" });
    input.addEventListener("input", onChange);
    return input;
  });
  row.append(
    el("div", { className: "quiet-head" }, el("span", { textContent: `Quiet period ${n}` }),
      removeButton(`quiet period ${n}`, row, onChange)),
    el("div", { className: "grid2" }, labelled("From", inputs[0]), labelled("Until", inputs[1])));
  box.append(row);
  return inputs[0];
}

export const quietValues = (box) => Array.from(box.querySelectorAll("[data-quiet-row]"), (row) => {
  const [a, b] = row.querySelectorAll("input");
  return [a.value, b.value];
}).filter(([a, b]) => a || b);

/** A holiday: its date as the phone writes it, and Remove. */
export function holidayItem(list, iso, onChange) {
  const li = el("li", {}, el("span", { textContent: localDate(iso) }));
  li.dataset.holiday = iso;
  li.dataset.testid = "plan-holiday";
  const remove = removeButton(`the holiday ${localDate(iso)}`, li, onChange);
  remove.dataset.testid = "plan-holiday-remove";
  li.append(remove);
  list.append(li);
}

export const holidayValues = (list) => Array.from(list.querySelectorAll("[data-holiday]"), (li) => li.dataset.holiday);

/** One step of a person's own ramp: from week W on, M minutes of standing a day. */
export function rampRow(box, [week, minutes]) {
  const row = el("div", { className: "ramp-row" });
  row.dataset.rampRow = "";
  row.dataset.testid = "plan-ramp-row";
  const w = el("input", { type: "number", inputMode: "numeric", min: 1, max: 520, step: 1, value: week ?? "" });
  const m = el("input", { type: "number", inputMode: "numeric", min: 0, max: 720, step: 5, value: minutes ?? "" });
  w.dataset.testid = "plan-ramp-week";
  m.dataset.testid = "plan-ramp-min";
  w.setAttribute("aria-label", "From week");
  m.setAttribute("aria-label", "Standing a day, minutes");
  const remove = removeButton("this week of the ramp", row, () => {});
  remove.dataset.testid = "plan-ramp-remove";
  row.append(w, m, remove);
  box.append(row);
  return w;
}

/** The ramp's points, in week order (a row typed out of order goes where it belongs). */
export const rampValues = (box) => Array.from(box.querySelectorAll("[data-ramp-row]"), (row) => {
  const [w, m] = row.querySelectorAll("input");
  return [w.value === "" ? NaN : Number(w.value), m.value === "" ? NaN : Number(m.value)];
}).filter(([w, m]) => !(isNaN(w) && isNaN(m))).sort((a, b) => a[0] - b[0]);
