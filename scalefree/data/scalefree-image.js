// scalefree-image.js: draws scalefree model data (.sfm files) at any size. A plain ES module, no build step.
//
//   <script type="module" src="scalefree-image.js"></script>
//   <scalefree-image src="photo.sfm" style="width: 100%"></scalefree-image>
//
// The element is as wide as the photo unless styled, keeps its aspect ratio,
// and shows the photo's frame fitted to its box, redrawn whenever the box
// changes; what lies beyond the frame is drawn too. Attributes: `border`
// widens the view as -b does; `scale` fixes the pixels per frame pixel as -x
// does (the view is then the render `--just_image -x SCALE -b BORDER --hard`
// writes, centred in the box); `interactive` zooms with the wheel, moves by
// dragging and goes back on a double click. It fires `load` once drawn, and
// `error` for a file it cannot draw (saying why in the console), and then
// draws nothing. The format is scalefree/formats/modeldata.py's; so are the
// checks and limits.

const MAX_BYTES = 1 << 20, MAX_DIVIDERS = 4096, MAX_WEIGHTS = 1 << 17, MAX_PIXELS = 1 << 24, LINES = 1;

class Refused extends Error {}
const check = (ok, message) => { if (!ok) throw new Refused(message); };

async function inflate(bytes, expected) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  const out = new Uint8Array(expected);
  let at = 0, chunk;
  try {
    while (!(chunk = await reader.read()).done) {
      check(at + chunk.value.length <= expected, "data longer than its header says");
      out.set(chunk.value, at);
      at += chunk.value.length;
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e instanceof Refused ? e : new Refused("not deflate data");
  }
  check(at === expected, "data shorter than its header says");
  return out;
}

const half = (u) => {  // a float16 from its bits
  const e = (u >> 10) & 31, f = u & 1023;
  return (u >> 15 ? -1 : 1) * (e === 31 ? (f ? NaN : Infinity) : 2 ** (Math.max(e, 1) - 15) * ((e ? 1 : 0) + f / 1024));
};

// The model in .sfm bytes: {w, h, n, m, kind and P (3 numbers) per divider, W1, B1, W2, B2}.
export async function decode(buffer) {
  const bytes = new Uint8Array(buffer), v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  check(bytes.length <= MAX_BYTES, "over 1 MB");
  check(String.fromCharCode(...bytes.subarray(0, 4)) === "SFIM", "not scalefree model data");
  const u8 = (i) => v.getUint8(i), u16 = (i) => v.getUint16(i, true), count = bytes.length > 10 && u8(10);
  const at = 11 + 3 * count, groups = [];
  check(bytes.length >= at + 7, "header cut short");
  check(u8(4) === 1, "version " + u8(4) + " is not 1");
  const h = u16(5), w = u16(7), m = u8(9), bits = u8(at), reach = v.getFloat32(at + 1, true);
  // The weights: their bits, + 128 when packed in the stream after the dividers (else bytes after it).
  const packed = u8(at + 5) & 128, weightBits = u8(at + 5) & 127, wide = !packed && weightBits > 8;
  let n = 0, geometry = 0;
  for (let g = 11; g < at; g += 3) {
    groups.push([u8(g), u16(g + 1)]);
    n += u16(g + 1);
    geometry += u16(g + 1) * (u8(g) === LINES ? 2 * bits + 2 : 3 * bits);
    check(u8(g) === LINES || u8(g) === 2, "unknown kind of divider");
  }
  check(h && w && m && n, "a size or count is 0");
  check(n <= MAX_DIVIDERS && n * m <= MAX_WEIGHTS, `too large: ${n} dividers, ${m} colour units`);
  const floats = u8(at + 6), limit = 2 ** (weightBits - 1) - 1;
  check(bits >= 8 && bits <= 24 && limit > 0 && limit < 2 ** 15 && (floats === 2 || floats === 4), "bad precision");
  check(reach > 0 && reach <= 1e6, "bad reach");
  const stream = Math.ceil((geometry + (packed ? n * m * weightBits : 0)) / 8), weights = packed ? 0 : n * m * (wide ? 2 : 1);
  const body = await inflate(bytes.subarray(at + 7), stream + weights + floats * (5 * m + 3));
  const tail = new DataView(body.buffer, stream);
  let bit = 0;
  const read = (k) => {  // k bits, most significant first
    let value = 0;
    for (let end = bit + k; bit < end; bit++) value = value * 2 + ((body[bit >> 3] >> (7 - (bit & 7))) & 1);
    return value;
  };
  // Per divider: a line's unit normal (cos, sin) and offset; a circle's centre and radius.
  const kind = new Uint8Array(n), P = new Float64Array(3 * n), step = 2 * reach / (2 ** bits - 1);
  let i = 0;
  for (const [k, c] of groups) {
    for (let j = 0; j < c; j++, i++) {
      kind[i] = k;
      if (k === LINES) {
        const angle = read(bits + 2) * 2 * Math.PI / 2 ** (bits + 2);
        P.set([Math.cos(angle), Math.sin(angle), read(bits) * step - reach], 3 * i);
      } else {
        P.set([read(bits) * step - reach, read(bits) * step - reach, read(bits) * step / 2], 3 * i);
        check(P[3 * i + 2], "circle of radius 0");
      }
    }
  }
  const F = new Float64Array(5 * m + 3).map((_, k) =>
    floats === 4 ? tail.getFloat32(weights + 4 * k, true) : half(tail.getUint16(weights + 2 * k, true)));
  check(F.every(Number.isFinite), "colour not finite");
  const W1 = new Float64Array(n * m).map((_, k) => {
    const q = packed ? read(weightBits) - limit : wide ? tail.getInt16(2 * k, true) : tail.getInt8(k);
    check(Math.abs(q) <= limit, "weight out of range");
    return q * F[k % m];
  });
  return {w, h, n, m, kind, P, W1, B1: F.subarray(m, 2 * m), W2: F.subarray(2 * m, 5 * m), B2: F.subarray(5 * m)};
}

// Draw the model into `image` (an ImageData) in the view {x, y, pitch}: the plane point at its centre and
// the plane distance between pixel centres. Row by row, as the hard render does: along a row a line flips
// sign once and a circle twice, so a row is runs of one region each. Each region's colour is worked out
// once, from the colour units' inputs of the region left of it (one or two dividers away), and kept
// with those inputs under a 53-bit hash of its sides. Every `pause` ms it lets the page go on (a big
// picture never hangs it), and gives up when `stale()` says a newer drawing began.
export async function draw(model, image, view, pause = 25, stale = () => false) {
  const {n, m, kind, P, W1, B1, W2, B2} = model, {width, height} = image, px = new Int32Array(image.data.buffer);
  const first = new Float64Array(m), hidden = new Float64Array(m), col = new Int32Array(2 * n);
  const unit = new Int32Array(2 * n), step = new Int8Array(2 * n), order = new Float64Array(2 * n);
  // The regions seen so far, by their hash (h1, h2) in open addressing: colour (0: an empty slot), and
  // where their inputs are kept in `inputs` (the first SLOTS / 2 regions).
  const K1 = new Int32Array(n), K2 = new Int32Array(n), SLOTS = 1 << 16, keys = new Int32Array(2 * SLOTS);
  const seen = new Int32Array(SLOTS), index = new Int32Array(SLOTS);
  let seed = 1, h1 = 0, h2 = 0, used = 0, inputs = new Float64Array(64 * m);
  const random = () => (seed = Math.imul(seed, 1664525) + 1013904223 | 0) ^ (seed >>> 15);
  const add = (i, s) => { for (let j = 0, o = i * m; j < m; j++) hidden[j] += s * W1[o + j]; };
  // Each row starts left of everything: outside every circle, on the side of each line its normal points
  // away from (a horizontal line's side depends on the row: added per row).
  for (let i = 0; i < n; i++) {
    K1[i] = random(); K2[i] = random();
    if (kind[i] !== LINES || P[3 * i]) for (let j = 0; j < m; j++) first[j] += (kind[i] === LINES && P[3 * i] > 0 ? -1 : 1) * W1[i * m + j];
  }
  for (let j = 0; j < m; j++) first[j] += B1[j];
  const byte = (z) => Math.min(255, Math.max(0, Math.floor(255 / (1 + Math.exp(-z)) + 0.5)));
  const pitch = view.pitch, x0 = view.x + (0.5 - width / 2) * pitch;
  const column = (x, round = Math.floor, shift = 1) => Math.min(width, Math.max(0, round((x - x0) / pitch) + shift));
  let since = performance.now();
  for (let r = 0; r < height; r++) {
    if (performance.now() - since > pause) {
      await new Promise((go) => setTimeout(go));
      if (stale()) return false;
      since = performance.now();
    }
    const y = view.y + (r + 0.5 - height / 2) * pitch;
    let events = 0;
    hidden.set(first);
    h1 = h2 = 0;
    for (let i = 0; i < n; i++) {
      const a = P[3 * i], b = P[3 * i + 1], c = P[3 * i + 2];
      if (kind[i] === LINES) {  // the sign of a x + b y - c flips once along a row, where it is zero
        if (a) {
          if (a > 0) { h1 ^= K1[i]; h2 ^= K2[i]; }
          col[events] = column((c - b * y) / a); unit[events] = i; step[events++] = a > 0 ? 2 : -2;
        } else {
          add(i, b * y < c ? -1 : 1);
          if (b * y < c) { h1 ^= K1[i]; h2 ^= K2[i]; }
        }
      } else if (c * c > (y - b) ** 2) {  // +1 outside a circle, -1 inside: a chord from enter to leave
        const chord = Math.sqrt(c * c - (y - b) ** 2);
        col[events] = column(a - chord); unit[events] = i; step[events++] = -2;
        col[events] = column(a + chord, Math.ceil, 0); unit[events] = i; step[events++] = 2;
      }
    }
    // The events in column order (then in divider order), sorted as numbers: column * 2^13 + event.
    for (let e = 0; e < events; e++) order[e] = col[e] * 8192 + e;
    const sorted = order.subarray(0, events).sort(), row = r * width;
    // `hidden` holds the inputs after the first `applied` events; the last run's region was `left`,
    // after the first `leftAt` events.
    let x = 0, applied = 0, left = -1, leftAt = 0;
    for (let k = 0; k <= events; k++) {
      const e = k < events ? sorted[k] % 8192 : -1, end = e < 0 ? width : col[e];
      if (end > x) {
        let slot = h1 & (SLOTS - 1), c;
        while ((c = seen[slot]) && (keys[2 * slot] !== h1 || keys[2 * slot + 1] !== h2)) slot = (slot + 1) & (SLOTS - 1);
        if (!c) {  // a region not seen before: ReLU colour units, then the sigmoid outputs, as 0xAABBGGRR
          if (left >= 0 && leftAt > applied) { hidden.set(inputs.subarray(left * m, left * m + m)); applied = leftAt; }
          for (; applied < k; applied++) { const f = sorted[applied] % 8192; add(unit[f], step[f]); }
          let red = B2[0], green = B2[1], blue = B2[2];
          for (let j = 0; j < m; j++) {
            const v = hidden[j];
            if (v > 0) { red += v * W2[3 * j]; green += v * W2[3 * j + 1]; blue += v * W2[3 * j + 2]; }
          }
          // A negative int32, so that it stays a small integer in the engine, not a boxed number.
          c = 0xff000000 | (byte(blue) << 16) | (byte(green) << 8) | byte(red);
          if (used < SLOTS / 2) {
            if ((used + 1) * m > inputs.length) { const more = new Float64Array(2 * inputs.length); more.set(inputs); inputs = more; }
            inputs.set(hidden, used * m);
            keys[2 * slot] = h1; keys[2 * slot + 1] = h2; seen[slot] = c; index[slot] = used++;
          }
          left = -1;
        } else {
          left = index[slot]; leftAt = k;
        }
        px.fill(c, row + x, row + end);
        x = end;
      }
      if (e < 0 || x >= width) break;
      h1 ^= K1[unit[e]]; h2 ^= K2[unit[e]];
    }
  }
  return true;
}

class ScalefreeImage extends HTMLElement {
  static observedAttributes = ["src", "border", "scale"];
  model = null;
  box = [0, 0];  // device pixels
  user = null;  // where the user moved the view: {x, y, zoom} against the fitted one
  generation = 0;
  drawnMs = null;  // how long the last drawing took

  constructor() {
    super();
    this.attachShadow({mode: "open"}).innerHTML = "<style>:host{display:inline-block;vertical-align:top;" +
      "position:relative;overflow:hidden;width:var(--sf-width,300px);aspect-ratio:var(--sf-aspect,auto)}" +
      "canvas{position:absolute;width:100%;height:100%}</style><canvas></canvas>";
    this.canvas = this.shadowRoot.lastChild;
    new ResizeObserver(([entry]) => {
      const exact = entry.devicePixelContentBoxSize?.[0];
      this.redraw(exact ? [exact.inlineSize, exact.blockSize] : [entry.contentRect.width, entry.contentRect.height].map((s) => s * devicePixelRatio));
    }).observe(this);
    // An `interactive` element: the wheel zooms about the pointer, a drag moves, a double click goes back.
    const on = () => this.hasAttribute("interactive") && this.model;
    const perPixel = () => this.view().pitch * this.box[0] / this.getBoundingClientRect().width;  // plane per CSS pixel
    const user = () => (this.user ||= {x: 0, y: 0, zoom: 1});
    this.addEventListener("wheel", (ev) => {
      if (!on()) return;
      ev.preventDefault();
      const rect = this.getBoundingClientRect(), k = perPixel(), u = user();
      const f = Math.exp(ev.deltaY * (ev.deltaMode ? 0.05 : 0.0015));
      u.x += (ev.clientX - rect.left - rect.width / 2) * k * (1 - f);
      u.y += (ev.clientY - rect.top - rect.height / 2) * k * (1 - f);
      u.zoom /= f;
      this.redraw();
    }, {passive: false});
    let drag = null;
    this.addEventListener("pointerdown", (ev) => { if (on()) drag = [ev.clientX, ev.clientY]; });
    this.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      const k = perPixel(), u = user();
      u.x -= (ev.clientX - drag[0]) * k; u.y -= (ev.clientY - drag[1]) * k;
      drag = [ev.clientX, ev.clientY];
      this.redraw();
    });
    for (const name of ["pointerup", "pointercancel", "pointerleave"]) this.addEventListener(name, () => { drag = null; });
    this.addEventListener("dblclick", () => { this.user = null; this.redraw(); });
  }

  attributeChangedCallback(name, before, after) {
    if (name === "src") this.load(after);
    else this.redraw();
  }

  async load(src) {
    const generation = ++this.generation;
    this.model = null;
    try {
      const response = await fetch(src);
      check(response.ok, `HTTP ${response.status}`);
      const model = await decode(await response.arrayBuffer());
      if (generation !== this.generation) return;
      Object.assign(this, {model, user: null, unannounced: true});
      this.redraw();
    } catch (e) {
      if (generation !== this.generation) return;
      console.error(`<scalefree-image src="${String(src).slice(0, 100)}">: ${e instanceof Refused ? "" : "could not read it: "}${e.message}`);
      this.canvas.width = 0;
      this.dispatchEvent(new Event("error"));
    }
  }

  view() {  // the plane point at the box's centre and the plane distance between its pixel centres
    const {w, h} = this.model, [width, height] = this.box, longer = Math.max(w, h), u = this.user || {x: 0, y: 0, zoom: 1};
    const border = 1 + (+this.getAttribute("border") || 0), scale = +this.getAttribute("scale");
    const fitted = scale > 0 ? 2 * border / longer / scale : Math.max(w / width, h / height) * 2 * border / longer;
    return {x: u.x, y: u.y, pitch: fitted / u.zoom};
  }

  // Draw again, in a box of `box` device pixels (as the resize observer measured it), or as laid out now.
  redraw(box) {
    if (!this.model) return;
    // Unless styled, as large as the frame times `scale`, in CSS pixels.
    const scale = +this.getAttribute("scale") > 0 ? +this.getAttribute("scale") : 1;
    const [w, h] = [this.model.w, this.model.h].map((s) => Math.max(1, Math.round(s * scale)));
    this.style.setProperty("--sf-width", `${w / devicePixelRatio}px`);
    this.style.setProperty("--sf-aspect", `${w} / ${h}`);
    box ||= [this.clientWidth, this.clientHeight].map((s) => s * devicePixelRatio);
    // A box of more than MAX_PIXELS device pixels is drawn at a lower resolution, stretched to fill it.
    const k = Math.min(1, Math.sqrt(MAX_PIXELS / (box[0] * box[1] || 1)));
    const [width, height] = this.box = box.map((s) => Math.floor(s * k + 0.5));
    if (!width || !height) {  // nothing to draw in an empty box
      this.canvas.width = 0;
      return this.announce();
    }
    const generation = ++this.generation, started = performance.now(), image = new ImageData(width, height);
    draw(this.model, image, this.view(), 25, () => generation !== this.generation).then((done) => {
      if (!done) return;
      Object.assign(this.canvas, {width, height}).getContext("2d").putImageData(image, 0, 0);
      this.drawnMs = performance.now() - started;
      this.announce();
    });
  }

  announce() {  // `load`, once a file is read and drawn
    if (this.unannounced) {
      this.unannounced = false;
      this.dispatchEvent(new Event("load"));
    }
  }
}

customElements.get("scalefree-image") || customElements.define("scalefree-image", ScalefreeImage);
