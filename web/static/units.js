/* Heights: the API always speaks millimetres, people their own unit. The page names the signed-in
 * person's unit in <body data-units> (mm when nobody is signed in).
 */
export const pageUnits = document.body.dataset.units || "mm";

export const finite = (v) => typeof v === "number" && isFinite(v);

/** The number alone, in `u` (the page's unit by default): "72.4", or "–" when there is none. */
export function num(mm, u) {
  u = u || pageUnits;
  if (!finite(mm)) return "–";
  if (u === "in") return (mm / 25.4).toFixed(1);
  if (u === "cm") return (mm / 10).toFixed(1);
  return mm.toFixed(0);
}

/** The number and its unit: "72.4 cm". */
export const height = (mm, u) => (finite(mm) ? `${num(mm, u)} ${u || pageUnits}` : "–");

/** What a person typed in `u`, as whole millimetres (null when it is not a number). */
export function toMm(value, u) {
  u = u || pageUnits;
  const v = Number(value);
  if (value === "" || !isFinite(v)) return null;
  return Math.round(u === "in" ? v * 25.4 : u === "cm" ? v * 10 : v);
}
