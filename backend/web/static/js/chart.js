// A small line chart on a canvas (no library): frames per second per interface over time.

const COLORS = ["#2f9e6e", "#e07b00", "#5a4fcf", "#d6336c", "#1c7ed6", "#8a6d00"];
const POINTS = 120;

export class RateChart {
  constructor(canvas, legend) {
    this.canvas = canvas;
    this.legend = legend;
    this.series = new Map(); // name -> array of numbers, at most POINTS
  }

  /** Add one sample per interface (frames/s). */
  push(sample) {
    for (const [name, value] of Object.entries(sample)) {
      if (!this.series.has(name)) this.series.set(name, []);
    }
    for (const [name, values] of this.series) {
      values.push(Number(sample[name]) || 0);
      if (values.length > POINTS) values.splice(0, values.length - POINTS);
    }
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 300;
    const height = canvas.clientHeight || 160;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const style = getComputedStyle(document.documentElement);
    const muted = style.getPropertyValue("--muted").trim() || "#888";
    const grid = style.getPropertyValue("--border").trim() || "#ddd";
    let max = 10;
    for (const values of this.series.values()) for (const v of values) max = Math.max(max, v);
    max = niceCeil(max);
    const left = 40;
    const right = 8;
    const top = 10;
    const bottom = 18;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = muted;
    ctx.strokeStyle = grid;
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i += 1) {
      const y = top + plotH - (plotH * i) / 4;
      ctx.beginPath();
      ctx.moveTo(left, Math.round(y) + 0.5);
      ctx.lineTo(width - right, Math.round(y) + 0.5);
      ctx.stroke();
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      ctx.fillText(String(Math.round((max * i) / 4)), left - 6, y);
    }
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.fillText("frames/s · last 2 min", left, height - 4);
    let index = 0;
    const legendItems = [];
    for (const [name, values] of this.series) {
      const color = COLORS[index % COLORS.length];
      index += 1;
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      values.forEach((v, i) => {
        const x = left + (plotW * (i + POINTS - values.length)) / (POINTS - 1);
        const y = top + plotH - (plotH * v) / max;
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
      const last = values.length ? values[values.length - 1] : 0;
      legendItems.push(`<span><i style="background:${color}"></i>${escapeHtml(name)} ${last.toFixed(0)}/s</span>`);
    }
    if (this.legend) this.legend.innerHTML = legendItems.join("");
  }
}

function niceCeil(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
