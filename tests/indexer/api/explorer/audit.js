// The explorer tests' page audit (see audit.py). arguments: minimum contrast, minimum for large text.
const problems = [];
const minNormal = arguments[0], minLarge = arguments[1];

function parse(color) {
  const m = color.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
  return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
}
function over(top, bottom) {
  const a = top.a + bottom.a * (1 - top.a);
  if (a === 0) return { r: 255, g: 255, b: 255, a: 1 };
  const mix = (t, b) => (t * top.a + b * bottom.a * (1 - top.a)) / a;
  return { r: mix(top.r, bottom.r), g: mix(top.g, bottom.g), b: mix(top.b, bottom.b), a: a };
}
function background(el) {
  const layers = [];
  for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
  }
  let color = { r: 255, g: 255, b: 255, a: 1 };
  for (let i = layers.length - 1; i >= 0; i--) color = over(layers[i], color);
  return color;
}
function luminance(c) {
  const ch = [c.r, c.g, c.b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
}
function contrast(a, b) {
  const la = luminance(a), lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}
function visible(el) {
  const s = getComputedStyle(el);
  if (s.visibility === "hidden" || s.display === "none") return false;
  const r = el.getBoundingClientRect();
  return r.width > 1 && r.height > 1;
}
function describe(el) {
  return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") + ' "' + (el.textContent || "").trim().slice(0, 40) + '"';
}

if (!document.documentElement.lang) problems.push("html has no lang");
const h1 = document.querySelectorAll("h1").length;
if (h1 !== 1) problems.push("page has " + h1 + " h1 elements");
const ids = new Set();
document.querySelectorAll("[id]").forEach(el => { if (ids.has(el.id)) problems.push("duplicate id " + el.id); ids.add(el.id); });

document.querySelectorAll("input, select, textarea").forEach(el => {
  if (el.type === "hidden") return;
  const labelled = (el.labels && Array.from(el.labels).some(l => l.textContent.trim())) || el.getAttribute("aria-label");
  if (!labelled) problems.push("control without a label: " + describe(el));
});
document.querySelectorAll("a, button").forEach(el => {
  if (el.hidden) return;
  if (!(el.textContent.trim() || el.getAttribute("aria-label"))) problems.push("control without text: " + describe(el));
});
document.querySelectorAll("table").forEach(el => {
  if (!el.caption || !el.caption.textContent.trim()) problems.push("table without caption: " + describe(el));
});
document.querySelectorAll("[role=img], figure, [role=region]").forEach(el => {
  const ref = el.getAttribute("aria-labelledby");
  const text = ref ? ref.split(/\s+/).map(id => (document.getElementById(id) || {}).textContent || "").join(" ").trim() : (el.getAttribute("aria-label") || "");
  if (!text) problems.push("no accessible name: " + describe(el));
});

const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const el = node.parentElement;
  if (!node.textContent.trim() || !el || seen.has(el) || el.closest("svg, script, style, option")) continue;
  seen.add(el);
  if (!visible(el)) continue;
  const s = getComputedStyle(el);
  const fg = parse(s.color);
  if (!fg) continue;
  const bg = background(el);
  const ratio = contrast(over(fg, bg), bg);
  const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
  const needed = (size >= 24 || (bold && size >= 18.66)) ? minLarge : minNormal;
  if (ratio + 1e-6 < needed) problems.push("contrast " + ratio.toFixed(2) + " < " + needed + ": " + describe(el));
}

const root = document.documentElement;
if (root.scrollWidth > root.clientWidth) problems.push("page scrolls sideways: " + root.scrollWidth + " > " + root.clientWidth + " px");
return problems;
