// Drives the browser page (GET /) of a running Tessera server in headless Chromium: the Detect panel with an image
// file (one frame, then a stream of frames), the webcam path on Chromium's fake camera, and the text panel. Takes a
// screenshot of each and prints a JSON summary; exits non-zero when a check fails. See README.md beside it.
//
//   node tools/browser/detect_panel.mjs --url http://127.0.0.1:8093 [--image photo.jpg] [--out shots/]
//
// Needs playwright-core (npm install playwright-core, outside the repository) and a Chromium binary
// (CHROMIUM=/usr/bin/chromium by default). The served models must include a detector and a text model
// (`bin/engine serve` serves builtin:tiny and builtin:detr-tiny by default).
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { createRequire } from "node:module";

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) =>
  a.startsWith("--") ? [...pairs, [a.slice(2), all[i + 1]]] : pairs, []));
const url = args.url || "http://127.0.0.1:8080";
const outDir = resolve(args.out || "browser-shots");
const timeout = Number(args.timeout || 120) * 1000;
// playwright-core is found from the current directory (where it was installed) or NODE_PATH.
const require = createRequire(join(process.cwd(), "noop.js"));
const { chromium } = require("playwright-core");

const checks = [];
function check(name, ok, detail) {
  checks.push({ name, ok: Boolean(ok), detail });
  console.error((ok ? "ok   " : "FAIL ") + name + (detail !== undefined ? ": " + JSON.stringify(detail) : ""));
}

async function stats(page) {
  return page.evaluate(() => ({
    stream: document.getElementById("detStats").dataset.stream || "",
    sent: Number(document.getElementById("detSent").textContent),
    answered: Number(document.getElementById("detAnswered").textContent),
    skipped: Number(document.getElementById("detSkipped").textContent),
    boxes: document.getElementById("detCount").textContent,
    frame: document.getElementById("detCount").dataset.frame || null,
    latency: document.getElementById("detLatency").textContent,
    info: document.getElementById("detInfo").textContent,
  }));
}

// Waits until a stream other than `previous` has had `n` frames answered.
async function answeredInNewStream(page, previous, n) {
  await page.waitForFunction(([p, k]) => {
    const id = document.getElementById("detStats").dataset.stream;
    return id && id !== p && Number(document.getElementById("detAnswered").textContent) >= k;
  }, [previous, n]);
}

// A test picture drawn in the page itself (nothing read from disk): shapes on a gradient, as a PNG.
async function testImage(page) {
  const b64 = await page.evaluate(() => {
    const c = document.createElement("canvas");
    c.width = 640; c.height = 480;
    const g = c.getContext("2d");
    const grad = g.createLinearGradient(0, 0, 640, 480);
    grad.addColorStop(0, "#9cc3e6"); grad.addColorStop(1, "#f3e3b5");
    g.fillStyle = grad; g.fillRect(0, 0, 640, 480);
    g.fillStyle = "#c0392b"; g.fillRect(80, 260, 180, 140);
    g.fillStyle = "#27ae60"; g.beginPath(); g.arc(430, 200, 90, 0, 2 * Math.PI); g.fill();
    g.fillStyle = "#34495e"; g.fillRect(330, 330, 240, 60);
    return c.toDataURL("image/png").split(",")[1];
  });
  return { name: "test-scene.png", mimeType: "image/png", buffer: Buffer.from(b64, "base64") };
}

const profile = mkdtempSync(join(tmpdir(), "tessera-chromium-"));
mkdirSync(outDir, { recursive: true });
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
  viewport: { width: 1400, height: 900 },
});
const shots = [];
try {
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("status").textContent === "connected");
  check("page connected to /v1/session", true);

  // Detect: one image, one frame. Random-weight built-ins score low, so the threshold goes to 0.
  const image = args.image
    ? { name: basename(args.image), mimeType: args.image.match(/\.png$/i) ? "image/png" : "image/jpeg",
        buffer: readFileSync(args.image) }
    : await testImage(page);
  await page.fill("#detThreshold", args.threshold || "0");
  await page.fill("#detMax", "10");
  await page.setInputFiles("#detFile", image);
  await page.waitForFunction(() => !document.getElementById("detStart").disabled);
  await page.click("#detStart");
  await page.waitForFunction(() => document.getElementById("detCount").dataset.frame === "1");
  let s = await stats(page);
  check("image: frame 1 answered with boxes drawn", Number(s.boxes) > 0, s);
  await page.waitForFunction(() => document.getElementById("detStop").disabled); // the stream was closed
  await page.locator("#detectPanel").screenshot({ path: join(outDir, "detect-image.png") });
  shots.push("detect-image.png");

  // Detect: the same image as a stream of frames at 8 fps.
  await page.check("#detRepeat");
  await page.fill("#detFps", "8");
  await page.click("#detStart");
  await answeredInNewStream(page, s.stream, 6);
  await page.click("#detStop");
  await page.waitForFunction(() => document.getElementById("detStop").disabled);
  s = await stats(page);
  check("image stream: frames answered, the rest counted as skipped or in flight",
    s.answered >= 6 && s.answered + s.skipped <= s.sent, s);
  await page.locator("#detectPanel").screenshot({ path: join(outDir, "detect-stream.png") });
  shots.push("detect-stream.png");

  // Webcam: Chromium's fake camera (a moving test pattern) streams frames as soon as it starts.
  await page.fill("#detFps", "5");
  const before = s.stream;
  await page.click("#detCamera");
  await answeredInNewStream(page, before, 5);
  s = await stats(page);
  const camera = await page.evaluate(() => {
    const v = document.getElementById("detVideo");
    return { width: v.videoWidth, height: v.videoHeight, button: document.getElementById("detCamera").textContent };
  });
  check("webcam: a new stream of camera frames sent and answered",
    s.stream !== before && s.sent >= 5 && s.answered >= 5 && camera.width > 0, { ...s, camera });
  await page.locator("#detectPanel").screenshot({ path: join(outDir, "detect-webcam.png") });
  shots.push("detect-webcam.png");
  await page.click("#detCamera"); // stop the webcam (and its stream)
  await page.waitForFunction(() => document.getElementById("detStop").disabled);

  // Text: the playground still streams.
  await page.fill("#prompt", "Once upon a time");
  await page.fill("#maxTokens", "24");
  await page.click("#generate");
  await page.waitForFunction(() => document.getElementById("stats").textContent.startsWith("finished"));
  const text = await page.evaluate(() => ({ output: document.getElementById("output").textContent,
    stats: document.getElementById("stats").textContent }));
  check("text: a completion streamed", text.output.length > 0 && /completion 24 tokens/.test(text.stats), text);
  await page.screenshot({ path: join(outDir, "page.png"), fullPage: true });
  shots.push("page.png");

  check("no errors in the page's console", consoleErrors.length === 0, consoleErrors);
} catch (e) {
  check("ran to the end", false, String(e));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
const ok = checks.every((c) => c.ok);
console.log(JSON.stringify({ ok, url, screenshots: shots.map((f) => join(outDir, f)), checks }));
process.exit(ok ? 0 : 1);
