/* Simple line figures for the break screen, one per stretch of the built-in catalogue
 * (deskpi/core/habits/stretches.py) and a generic one for anything else: inline SVG built here,
 * no image files, no style attributes (the colours come from app.css).
 *
 * A figure is a list of parts on a 120 x 120 grid: ["head", x, y] (a circle), ["line", "d"] (a
 * path of the body), ["arrow", x1, y1, x2, y2] (which way to move), ["prop", "d"] (a chair, a desk,
 * the floor).
 */
const SVG = "http://www.w3.org/2000/svg";
const LEGS = "M60 66 L49 110 M60 66 L71 110";
const FLOOR = "M14 112 L106 112";

const FIGURES = {
  generic: [["head", 60, 16], ["line", "M60 25 L60 66"], ["line", LEGS], ["line", "M60 34 L44 10 M60 34 L76 10"],
    ["prop", FLOOR]],
  back_extension: [["head", 68, 18], ["line", "M59 66 Q62 46 66 27"], ["line", "M59 66 L49 110 M59 66 L70 110"],
    ["line", "M65 34 L51 47 L57 62"], ["arrow", 86, 58, 84, 24], ["prop", FLOOR]],
  hip_flexor_stretch: [["head", 58, 22], ["line", "M58 31 L58 68"], ["line", "M58 68 L80 82 L82 110"],
    ["line", "M58 68 L40 92 L24 108"], ["line", "M58 40 L72 60 M58 40 L46 58"], ["arrow", 40, 74, 52, 84],
    ["prop", FLOOR]],
  chin_tucks: [["head", 62, 40], ["line", "M58 58 L58 80"], ["line", "M28 90 Q58 76 88 90"],
    ["arrow", 100, 40, 82, 40], ["prop", "M71 40 L73 40"]],
  shoulder_rolls: [["head", 60, 18], ["line", "M60 27 L60 66"], ["line", LEGS], ["line", "M60 34 L46 62 M60 34 L74 62"],
    ["line", "M34 34 A10 10 0 1 1 44 44"], ["line", "M86 34 A10 10 0 1 0 76 44"], ["prop", FLOOR]],
  seated_twist: [["prop", "M38 72 L82 72 M42 72 L42 110 M78 72 L78 110 M82 72 L82 36"], ["head", 58, 18],
    ["line", "M58 27 L58 70"], ["line", "M58 70 L32 72 L32 108"], ["line", "M58 38 L80 48 M58 38 L38 56"],
    ["arrow", 42, 28, 74, 24], ["prop", FLOOR]],
  short_walk: [["head", 64, 16], ["line", "M64 25 L59 64"], ["line", "M59 64 L44 108 M59 64 L76 102 L84 110"],
    ["line", "M63 34 L49 52 M63 34 L78 50"], ["line", "M18 44 L32 44 M14 58 L28 58"], ["arrow", 84, 30, 104, 30],
    ["prop", FLOOR]],
  chest_opener: [["head", 60, 16], ["line", "M60 25 Q66 45 60 66"], ["line", LEGS], ["line", "M61 34 L48 50 L54 64"],
    ["line", "M61 34 L70 50 L56 64"], ["arrow", 74, 40, 92, 32], ["prop", FLOOR]],
  calf_raises: [["prop", "M76 50 L106 50 M100 50 L100 112"], ["head", 58, 12], ["line", "M58 21 L58 60"],
    ["line", "M58 60 L53 98 L56 108 M58 60 L64 98 L62 108"], ["line", "M58 30 L78 50"], ["arrow", 30, 100, 30, 66],
    ["prop", FLOOR]],
  upper_back_stretch: [["head", 56, 26], ["line", "M58 66 Q50 48 60 32"], ["line", "M58 66 L48 110 M58 66 L70 110"],
    ["line", "M60 36 L92 40 M60 40 L92 43"], ["head-small", 95, 42], ["arrow", 70, 60, 100, 60], ["prop", FLOOR]],
};

function node(name, attrs) {
  const n = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  return n;
}

function arrow(x1, y1, x2, y2) {
  const a = Math.atan2(y2 - y1, x2 - x1);
  const head = (turn) => `${(x2 - 7 * Math.cos(a + turn)).toFixed(1)} ${(y2 - 7 * Math.sin(a + turn)).toFixed(1)}`;
  return node("path", { class: "fig-arrow", d: `M${x1} ${y1} L${x2} ${y2} M${head(0.5)} L${x2} ${y2} L${head(-0.5)}` });
}

/** The illustration for `stretchId` (the generic figure for an unknown one), labelled with `label`. */
export function figure(stretchId, label) {
  const key = Object.prototype.hasOwnProperty.call(FIGURES, stretchId) ? stretchId : "generic";
  const svg = node("svg", { viewBox: "0 0 120 120", class: "figure", role: "img", "aria-label": label,
    "data-figure": key, focusable: "false" });
  const title = node("title", {});
  title.textContent = label;
  svg.append(title);
  for (const [kind, ...p] of FIGURES[key]) {
    if (kind === "head") svg.append(node("circle", { class: "fig-head", cx: p[0], cy: p[1], r: 9 }));
    else if (kind === "head-small") svg.append(node("circle", { class: "fig-line", cx: p[0], cy: p[1], r: 3 }));
    else if (kind === "arrow") svg.append(arrow(...p));
    else svg.append(node("path", { class: kind === "prop" ? "fig-prop" : "fig-line", d: p[0] }));
  }
  return svg;
}

export const FIGURE_IDS = Object.keys(FIGURES);
