// nnfast draw: the canvas, the upload and the picker; each stroke's end asks the server for a prediction.
"use strict";
const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d");
const errorArea = document.getElementById("error");
const picker = document.getElementById("model");
const PROMPT = "Draw a digit to see what the network reads.";
let drawing = false, dirty = false, pending = null;
let photo = null;  // {dataUrl, name} while the canvas shows an uploaded photo: the next stroke starts afresh

function blank() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  dirty = false;
  photo = null;
}

function showPhoto(dataUrl) {
  // The canvas shows the photo being read (fitted, on white), not the last drawing.
  const img = new Image();
  img.onload = () => {
    if (!photo || photo.dataUrl !== dataUrl) return;  // cleared or replaced meanwhile
    const scale = Math.min(canvas.width / img.naturalWidth, canvas.height / img.naturalHeight);
    const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
    ctx.drawImage(img, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
  };
  img.src = dataUrl;
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}

canvas.addEventListener("pointerdown", (event) => {
  if (photo) blank();  // drawing after a photo: a new drawing, not ink over the photo
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
  document.getElementById("certainty").textContent = PROMPT;
  errorArea.textContent = "";
});

function readFile(file) {
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => {
    blank();
    photo = { dataUrl: reader.result, name: file.name };
    showPhoto(reader.result);
    predict(reader.result, file.name);
  };
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
picker.addEventListener("change", () => {
  if (photo) predict(photo.dataUrl, photo.name);
  else if (dirty) predict(canvas.toDataURL("image/png"), "drawing");
});

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
  const certainty = document.getElementById("certainty");
  const bars = document.getElementById("outputs");
  const preview = document.getElementById("preview");
  bars.replaceChildren();
  if (!answer) {
    prediction.textContent = "–";
    prediction.classList.remove("unsure");
    certainty.textContent = "";
    preview.hidden = true;  // a placeholder, never a broken image
    preview.removeAttribute("src");
    document.getElementById("preview-empty").hidden = false;
    document.getElementById("timing").textContent = "";
    return;
  }
  // One measure, as `nnfast predict` shows it: the winning output unit's activation, 0 to 1; sure only when
  // that output alone is above 0.5.
  const output = answer.output.toFixed(2);
  prediction.textContent = answer.sure ? answer.prediction : `${answer.prediction}?`;
  prediction.classList.toggle("unsure", !answer.sure);
  const yes = answer.outputs.filter((v) => v > 0.5).length;
  certainty.textContent = answer.sure ? `output ${output}: sure (only this output is above 0.5)`
    : yes === 0 ? `not sure: the best output is ${output}, and none is above 0.5`
    : `not sure: output ${output}, but ${yes - 1} other output${yes > 2 ? "s are" : " is"} above 0.5 too`;
  answer.classes.forEach((name, i) => {
    const v = answer.outputs[i];
    const label = document.createElement("span");
    label.textContent = name;
    const bar = document.createElement("div");
    bar.className = "bar" + (i === answer.index ? " best" : "");
    bar.style.width = `${Math.max(0.5, 100 * Math.min(1, v))}%`;
    const value = document.createElement("span");
    value.textContent = v.toFixed(2);
    bars.append(label, bar, value);
  });
  preview.src = answer.preview;
  preview.hidden = false;
  document.getElementById("preview-empty").hidden = true;
  document.getElementById("timing").textContent = `the server's work: ${answer.ms} ms`;
}

async function loadModels() {
  try {
    const response = await fetch("/api/models");
    const { models } = await response.json();
    models.forEach((m, i) => picker.append(new Option(m.name, String(i))));
    picker.disabled = models.length < 2;
  } catch (error) {
    errorArea.textContent = `cannot reach the nnfast server: ${error.message}`;
  }
}

blank();
loadModels();
