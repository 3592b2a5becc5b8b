// nnfast draw: the canvas, the upload and the picker; each stroke's end asks the server for a prediction.
"use strict";
const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d");
const errorArea = document.getElementById("error");
const picker = document.getElementById("model");
let drawing = false, dirty = false, pending = null;

function blank() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  dirty = false;
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}

canvas.addEventListener("pointerdown", (event) => {
  drawing = true;
  canvas.setPointerCapture(event.pointerId);
  const [x, y] = point(event);
  ctx.strokeStyle = "#111";
  ctx.lineWidth = 18;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 0.01, y);  // a dot is ink too
  ctx.stroke();
  dirty = true;
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const [x, y] = point(event);
  ctx.lineTo(x, y);
  ctx.stroke();
});
function strokeEnded() {
  if (!drawing) return;
  drawing = false;
  predict(canvas.toDataURL("image/png"), "drawing");
}
canvas.addEventListener("pointerup", strokeEnded);
canvas.addEventListener("pointercancel", strokeEnded);

document.getElementById("clear").addEventListener("click", () => {
  blank();
  show(null);
  errorArea.textContent = "";
});

function readFile(file) {
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => predict(reader.result, file.name);
  reader.onerror = () => { errorArea.textContent = `${file.name}: the browser could not read it`; };
  reader.readAsDataURL(file);
}
document.getElementById("upload").addEventListener("change", (event) => {
  readFile(event.target.files[0]);
  event.target.value = "";  // choosing the same file again is a new choice
});
document.addEventListener("dragover", (event) => event.preventDefault());
document.addEventListener("drop", (event) => {
  event.preventDefault();
  readFile(event.dataTransfer.files[0]);
});
picker.addEventListener("change", () => { if (dirty) predict(canvas.toDataURL("image/png"), "drawing"); });

async function predict(dataUrl, what) {
  const body = JSON.stringify({ model: Number(picker.value || 0), image: dataUrl });
  const mine = pending = Symbol(what);
  let answer;
  try {
    const response = await fetch("/api/predict", { method: "POST", headers: { "Content-Type": "application/json" }, body });
    answer = await response.json();
    if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
  } catch (error) {
    if (mine === pending) {
      show(null);  // the last answer was for something else
      errorArea.textContent = `${what}: ${error.message}`;
    }
    return;
  }
  if (mine !== pending) return;  // a later stroke's answer is on its way
  errorArea.textContent = "";
  show(answer);
}

function show(answer) {
  const prediction = document.getElementById("prediction");
  const bars = document.getElementById("probabilities");
  const preview = document.getElementById("preview");
  bars.replaceChildren();
  if (!answer) {
    prediction.textContent = "–";
    preview.removeAttribute("src");
    document.getElementById("timing").textContent = "";
    return;
  }
  prediction.textContent = `${answer.prediction} (${Math.round(100 * answer.probabilities[answer.index])}%)`;
  answer.classes.forEach((name, i) => {
    const p = answer.probabilities[i];
    const label = document.createElement("span");
    label.textContent = name;
    const bar = document.createElement("div");
    bar.className = "bar" + (i === answer.index ? " best" : "");
    bar.style.width = `${Math.max(0.5, 100 * p)}%`;
    const value = document.createElement("span");
    value.textContent = `${(100 * p).toFixed(0)}%`;
    bars.append(label, bar, value);
  });
  preview.src = answer.preview;
  document.getElementById("timing").textContent = `the server's work: ${answer.ms} ms`;
}

async function loadModels() {
  try {
    const response = await fetch("/api/models");
    const { models } = await response.json();
    models.forEach((m, i) => picker.append(new Option(`${m.name} (${m.classes.length} classes)`, String(i))));
    picker.disabled = models.length < 2;
  } catch (error) {
    errorArea.textContent = `cannot reach the nnfast server: ${error.message}`;
  }
}

blank();
loadModels();
