/* The claim panel on the home page: who may move the desk from a phone. Claiming asks the person
 * at the desk to confirm by pressing the one preset button the server drew for this request (the
 * panel shows its number); until the claim is theirs the motion buttons are shown as disabled (the
 * server refuses them anyway). The holder sees who else asks for the desk and can refuse them.
 */
import { act, me } from "./api.js";
import { $, $$, byTestId, setHidden, setText } from "./dom.js";
import { on, refresh } from "./live.js";
import { finite } from "./units.js";

const el = {
  panel: $("[data-claim-panel]"),
  status: byTestId("claim-status"),
  help: $("[data-claim-help]"),
  press: $("[data-claim-press]"),
  slot: byTestId("claim-press-preset"),
  requests: $("[data-claim-requests]"),
  list: byTestId("claim-pending-list"),
  claim: $("[data-claim]"),
  release: $("[data-claim-release]"),
};
let claim = null;
let claimAt = 0;
let claimTimer = null;

function claimRemaining() {
  if (!claim || !finite(claim.expires_in_s)) return null;
  return Math.max(0, Math.ceil(claim.expires_in_s - (performance.now() - claimAt) / 1000));
}

const asking = () => Boolean(claim && claim.state === "pending" && claim.mine);

function claimText() {
  if (!claim || claim.state === "none") return "Not claimed";
  if (claim.state === "pending") {
    if (!claim.mine) return `${claim.user || "Someone"} is claiming this desk`;
    if (claim.waiting_for) return `Waiting for ${claim.waiting_for} to release the desk`;
    const left = claimRemaining();
    const what = `Press preset ${claim.press_preset} on the desk`;
    return left === null ? what : `${what} within ${left} s`;
  }
  return claim.mine ? "Claimed by you" : `In use by ${claim.user || "someone"}`;
}

// In the simulator the desk's own buttons are the virtual keypad further down the page.
const onDesk = document.body.dataset.sim === "true" ? "on the virtual keypad below" : "on the desk itself";

function helpText(locked) {
  if (asking() && claim.waiting_for) {
    return `${claim.waiting_for} sees your request. When they release the desk, press preset ${claim.press_preset} ${onDesk}.`;
  }
  if (asking()) return `Waiting for you to press preset ${claim.press_preset} ${onDesk}; other buttons do their usual job.`;
  if (claim.refused_by && !claim.mine) return `${claim.refused_by} refused your request for the desk.`;
  return locked ? `To move the desk from here, tap Claim this desk, then press the preset button it shows ${onDesk}.` : "";
}

function needsClaim() {
  return Boolean(claim && claim.required && !(claim.state === "claimed" && claim.mine));
}

function sinceText(r) {
  if (finite(r.since)) {
    const at = new Date(r.since * 1000);
    return `since ${at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })}`;
  }
  return finite(r.age_s) ? `waiting ${Math.round(r.age_s)} s` : "";
}

/** The holder's list of people asking for the desk, each with a Refuse button (text only, no HTML). */
function renderRequests(requests) {
  const list = Array.isArray(requests) ? requests : [];
  setHidden(el.requests, list.length === 0);
  if (!el.list) return;
  const shown = $$("[data-testid=claim-request]", el.list).map((li) => `${li.dataset.user}|${li.dataset.since}`);
  if (shown.join("\n") === list.map((r) => `${r.user}|${r.since}`).join("\n")) return;  // no flicker
  el.list.replaceChildren(...list.map((r) => {
    const li = document.createElement("li");
    li.dataset.testid = "claim-request";
    li.dataset.user = String(r.user);
    li.dataset.since = String(r.since);
    const who = document.createElement("span");
    who.className = "claim-request-who";
    who.textContent = String(r.user);
    const since = document.createElement("span");
    since.className = "muted";
    since.textContent = sinceText(r);
    const refuse = document.createElement("button");
    refuse.type = "button";
    refuse.className = "btn btn-quiet";
    refuse.dataset.testid = "claim-refuse";
    refuse.dataset.refuse = String(r.user);
    refuse.textContent = "Refuse";
    li.append(who, " ", since, " ", refuse);
    return li;
  }));
}

function renderClaim(c) {
  if (!c || typeof c !== "object") return;
  claim = c;
  claimAt = performance.now();
  const locked = needsClaim();
  setHidden(el.panel, false);
  if (el.panel) el.panel.dataset.state = String(c.state);
  setText(el.status, claimText());
  setHidden(el.press, !asking());
  setText(el.slot, asking() && c.press_preset != null ? String(c.press_preset) : "");
  setText(el.help, helpText(locked));
  renderRequests(c.state === "claimed" && c.mine ? c.requests : []);
  setHidden(el.claim, Boolean(c.mine && c.state !== "none"));
  setHidden(el.release, !(c.mine && c.state !== "none"));
  setText(el.release, c.state === "pending" ? "Cancel" : "Release the desk");
  for (const b of $$('[data-hold], [data-preset], [data-r-action="move"]')) {   // a reminder's move too
    if (locked) b.setAttribute("aria-disabled", "true");
    else b.removeAttribute("aria-disabled");
  }
  const pad = $("[data-motion]");
  if (pad) pad.classList.toggle("is-locked", locked);
  clearInterval(claimTimer);
  claimTimer = null;
  if (asking() && finite(c.expires_in_s)) {
    claimTimer = setInterval(() => {
      setText(el.status, claimText());
      if (claimRemaining() === 0) { clearInterval(claimTimer); claimTimer = null; refresh(); }
    }, 250);
  }
}

on("state", (s) => { if ("claim" in s) renderClaim(s.claim); });

if (el.claim) {
  el.claim.addEventListener("click", () => {
    act("POST", "/claim", {}).then((r) => {
      if (r.ok && r.data) renderClaim({ mine: true, user: me, required: claim ? claim.required : true, ...r.data });
    });
  });
}
if (el.release) {
  el.release.addEventListener("click", () => {
    act("DELETE", "/claim", undefined, "you released the desk").then((r) => {
      if (r.ok && r.data) renderClaim(r.data);
      else if (r.ok) renderClaim({ ...(claim || {}), state: "none", user: null, mine: false, expires_in_s: null });
    });
  });
}
if (el.list) {
  // One listener for every Refuse button, present and future.
  el.list.addEventListener("click", (e) => {
    const button = e.target instanceof Element ? e.target.closest("[data-refuse]") : null;
    if (!button) return;
    const name = button.dataset.refuse;
    act("POST", "/claim/refuse", { name }, `you refused ${name}'s request`).then((r) => {
      if (r.ok && r.data) renderClaim(r.data);
    });
  });
}
