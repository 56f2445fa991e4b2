// What the explorer tests read from a page, in one round trip: for every element matching
// arguments[0] (within arguments[1], or the document), its attributes, the exact figures of its
// <data value> elements, the full text of its <code> hashes, its state badges, its [data-figure]s.
const root = arguments[1] || document;
function figure(el) {
  if (el.tagName === "DATA") return el.value;
  const inner = el.querySelector("data");
  return inner ? inner.value : el.textContent.trim();
}
return Array.from(root.querySelectorAll(arguments[0])).map(el => ({
  attrs: Object.fromEntries(Array.from(el.attributes).map(a => [a.name, a.value])),
  data: Array.from(el.querySelectorAll("data")).map(d => d.value),
  codes: Array.from(el.querySelectorAll("code")).map(c => c.textContent.trim()),
  badges: Array.from(el.querySelectorAll(".badge")).map(b => b.textContent.trim()),
  figures: Object.fromEntries(Array.from(el.querySelectorAll("[data-figure]")).map(f => [f.dataset.figure, figure(f)])),
  text: el.textContent.replace(/\s+/g, " ").trim(),
}));
