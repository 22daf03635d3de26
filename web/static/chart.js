// A small SVG chart of prices over time: every bid as a dot, the best price as a step
// line, the ceiling and reserve as dashed lines. Hand-written: no library to vendor.
const NS = "http://www.w3.org/2000/svg";

function el(name, attrs) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

// points: [{at: ms, price: minor, best: bool}] oldest first; lines: [{price, label}].
export function drawChart(svg, points, lines, format) {
  const width = 640, height = 260, left = 64, right = 12, top = 12, bottom = 28;
  svg.replaceChildren();
  const prices = [...points.map((p) => p.price), ...lines.map((l) => l.price)].filter((p) => p !== null);
  if (!points.length) {
    const text = el("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "axis" });
    text.textContent = svg.dataset.empty || "";
    svg.append(text);
    return;
  }
  const t0 = points[0].at;
  const t1 = Math.max(points[points.length - 1].at, t0 + 1000);
  let lo = Math.min(...prices), hi = Math.max(...prices);
  if (lo === hi) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.08;
  lo -= pad; hi += pad;
  const x = (at) => left + ((at - t0) / (t1 - t0)) * (width - left - right);
  const y = (price) => top + ((hi - price) / (hi - lo)) * (height - top - bottom);
  for (const price of [hi - pad, (hi + lo) / 2, lo + pad]) {
    const label = el("text", { x: left - 6, y: y(price) + 4, "text-anchor": "end", class: "axis" });
    label.textContent = format(Math.round(price));
    svg.append(label, el("line", { x1: left, x2: width - right, y1: y(price), y2: y(price), class: "grid" }));
  }
  for (const line of lines) {
    if (line.price === null || line.price === undefined) continue;
    svg.append(el("line", { x1: left, x2: width - right, y1: y(line.price), y2: y(line.price), class: `limit ${line.kind}` }));
    const label = el("text", { x: width - right - 4, y: y(line.price) - 4, "text-anchor": "end", class: "axis" });
    label.textContent = line.label;
    svg.append(label);
  }
  let best = null, path = "";
  for (const p of points) {
    if (best === null || p.price < best) {
      path += best === null ? `M${x(p.at)},${y(p.price)}` : `H${x(p.at)}V${y(p.price)}`;
      best = p.price;
    }
  }
  path += `H${x(t1)}`;
  svg.append(el("path", { d: path, class: "best" }));
  for (const p of points) {
    const dot = el("circle", { cx: x(p.at), cy: y(p.price), r: 3.5, class: "dot" });
    const title = el("title", {});
    title.textContent = `${format(p.price)} · ${new Date(p.at).toLocaleTimeString()}`;
    dot.append(title);
    svg.append(dot);
  }
}
