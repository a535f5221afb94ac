/* The claim panel on the home page: who may move the desk from a phone. Claiming asks the person
 * at the desk to confirm with a desk button; until the claim is theirs the motion buttons are
 * shown as disabled (the server refuses them anyway).
 */
import { act, me } from "./api.js";
import { $, $$, byTestId, setHidden, setText } from "./dom.js";
import { on, refresh } from "./live.js";
import { finite } from "./units.js";

const el = {
  panel: $("[data-claim-panel]"),
  status: byTestId("claim-status"),
  help: $("[data-claim-help]"),
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

function claimText() {
  if (!claim || claim.state === "none") return "Not claimed";
  if (claim.state === "pending") {
    if (!claim.mine) return `${claim.user || "Someone"} is claiming this desk`;
    const left = claimRemaining();
    return left === null ? "Press any preset button on the desk"
      : `Press any preset button on the desk within ${left} s`;
  }
  return claim.mine ? "Claimed by you" : `In use by ${claim.user || "someone"}`;
}

function needsClaim() {
  return Boolean(claim && claim.required && !(claim.state === "claimed" && claim.mine));
}

function renderClaim(c) {
  if (!c || typeof c !== "object") return;
  claim = c;
  claimAt = performance.now();
  const locked = needsClaim();
  setHidden(el.panel, false);
  if (el.panel) el.panel.dataset.state = String(c.state);
  setText(el.status, claimText());
  setText(el.help, locked
    ? (c.state === "pending" && c.mine
      ? "Waiting for you to press a preset button on the desk itself."
      : "To move the desk from here, claim it: you then confirm on the desk itself.")
    : "");
  setHidden(el.claim, Boolean(c.mine && c.state !== "none"));
  setHidden(el.release, !(c.mine && c.state !== "none"));
  setText(el.release, c.state === "pending" ? "Cancel" : "Release the desk");
  for (const b of $$("[data-hold], [data-preset]")) {
    if (locked) b.setAttribute("aria-disabled", "true");
    else b.removeAttribute("aria-disabled");
  }
  const pad = $("[data-motion]");
  if (pad) pad.classList.toggle("is-locked", locked);
  clearInterval(claimTimer);
  claimTimer = null;
  if (c.state === "pending" && c.mine && finite(c.expires_in_s)) {
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
      if (r.ok) renderClaim({ ...(claim || {}), state: "none", user: null, mine: false, expires_in_s: null });
    });
  });
}
