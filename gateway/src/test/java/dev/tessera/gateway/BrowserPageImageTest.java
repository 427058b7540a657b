package dev.tessera.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.text.TextConfig;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The browser page in headless Chromium (driven over the DevTools protocol) against a real server serving
 * {@code builtin:vlm-tiny}: an image attached to the prompt goes as a chat message with an image part, and the
 * image's placeholders count as prompt tokens; a corrupt file is answered INVALID_ARGUMENT naming the part. Needs
 * Chromium ({@code $CHROMIUM}, else {@code /usr/bin/chromium}): tagged "browser", so the README's test command
 * (a JDK and Maven only) leaves it out and {@code .ci/run} runs it on its own.
 */
@Timeout(300)
@org.junit.jupiter.api.Tag("browser")
class BrowserPageImageTest {

    @Test
    void anImageAttachedToThePromptIsSentAsAChatMessage(@TempDir Path cache, @TempDir Path tmp) throws Exception {
        TextEngineOptions engine = TextEngineOptions.defaults(BuiltinModels.materialize("vlm-tiny", cache))
                .withName("vlm-tiny").withCacheDir(cache).withKvMemoryBytes(32L << 20).withThreads(2)
                .withMaxModelLen(1024);
        BufferedImage img = new BufferedImage(224, 224, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(new Color(40, 160, 90));
        g.fillRect(0, 0, 224, 224);
        g.setColor(Color.MAGENTA);
        g.fillRect(50, 70, 100, 60);
        g.dispose();
        Path png = tmp.resolve("picture.png");
        ImageIO.write(img, "png", png.toFile());
        Path corrupt = tmp.resolve("broken.png");
        Files.write(corrupt, new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});

        try (TesseraServer server = TesseraServer.start(GatewayTestSupport.loopback(),
                new ModelSpec.Text(engine, TextConfig.defaults()));
             Chromium chrome = Chromium.launch(tmp.resolve("profile"))) {
            chrome.call("Page.enable", new JsonObject());
            chrome.call("Page.navigate", new JsonObject().put("url", "http://127.0.0.1:" + server.gateway().port()
                    + "/"));
            chrome.await("the page is connected and knows the models",
                    "document.getElementById('status') !== null && document.getElementById('status').textContent"
                            + " === 'connected' && visionModel === 'vlm-tiny'");

            chrome.attach("#genImages", png);
            chrome.eval("document.getElementById('prompt').value = 'What is in this picture?';"
                    + " document.getElementById('maxTokens').value = '8'; document.getElementById('generate').click();"
                    + " true");
            chrome.await("the job finished", "document.getElementById('stats').textContent"
                    + ".startsWith('finished') || document.querySelector('#stats .error') !== null");
            String stats = chrome.eval("document.getElementById('stats').textContent").getString("value");
            assertTrue(stats.startsWith("finished: length"), stats);
            assertTrue(stats.contains("completion 8 tokens"), stats);
            Matcher m = Pattern.compile("prompt (\\d+) tokens").matcher(stats);
            assertTrue(m.find(), stats);
            // 224 x 224 = 16 x 16 patches = 64 placeholder tokens after the 2 x 2 merge, plus the template's
            assertTrue(Integer.parseInt(m.group(1)) >= 64 + 3, stats);

            chrome.attach("#genImages", corrupt);
            chrome.eval("document.getElementById('generate').click(); true");
            chrome.await("the error is shown", "document.querySelector('#stats .error') !== null");
            String error = chrome.eval("document.getElementById('stats').textContent").getString("value");
            assertTrue(error.startsWith("INVALID_ARGUMENT"), error);
            assertTrue(error.contains("messages[0].content[0].image"), error);
        }
    }

    /** Headless Chromium and one page target, driven over the DevTools protocol. */
    static final class Chromium implements AutoCloseable {
        private final Process process;
        private final WebSocket socket;
        private final AtomicInteger ids = new AtomicInteger();
        private final Map<Integer, CompletableFuture<JsonObject>> pending = new ConcurrentHashMap<>();

        private Chromium(Process process, WebSocket socket) {
            this.process = process;
            this.socket = socket;
        }

        static Chromium launch(Path profile) throws Exception {
            String binary = System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium");
            assertTrue(Files.isExecutable(Path.of(binary)), "this test needs Chromium: set $CHROMIUM (" + binary
                    + " is not there)");
            Files.createDirectories(profile);
            Process p = new ProcessBuilder(binary, "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--no-first-run", "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank")
                    .redirectErrorStream(true).redirectOutput(profile.resolve("chromium.log").toFile()).start();
            try {
                Path active = profile.resolve("DevToolsActivePort");
                GatewayTestSupport.eventually("Chromium's DevTools port", () -> {
                    try {
                        return Files.isRegularFile(active) && Files.readAllLines(active).size() >= 2;
                    } catch (java.io.IOException e) {
                        return false;
                    }
                });
                int port = Integer.parseInt(Files.readAllLines(active).get(0).trim());
                HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                JsonArray targets = new JsonArray(http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/json/list")).build(),
                        HttpResponse.BodyHandlers.ofString()).body());
                String url = null;
                for (Object t : targets) {
                    JsonObject o = (JsonObject) t;
                    if ("page".equals(o.getString("type"))) url = o.getString("webSocketDebuggerUrl");
                }
                assertTrue(url != null, "a page target: " + targets);
                Chromium[] self = new Chromium[1];
                WebSocket ws = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10))
                        .buildAsync(URI.create(url), new WebSocket.Listener() {
                            private final StringBuilder text = new StringBuilder();

                            @Override
                            public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                                text.append(data);
                                if (last) {
                                    JsonObject msg = new JsonObject(text.toString());
                                    text.setLength(0);
                                    Integer id = msg.getInteger("id");
                                    if (id != null && self[0] != null) {
                                        CompletableFuture<JsonObject> f = self[0].pending.remove(id);
                                        if (f != null) f.complete(msg);
                                    }
                                }
                                w.request(1);
                                return null;
                            }
                        }).get(30, TimeUnit.SECONDS);
                self[0] = new Chromium(p, ws);
                return self[0];
            } catch (Exception | AssertionError e) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw e;
            }
        }

        JsonObject call(String method, JsonObject params) throws Exception {
            int id = ids.incrementAndGet();
            CompletableFuture<JsonObject> f = new CompletableFuture<>();
            pending.put(id, f);
            socket.sendText(new JsonObject().put("id", id).put("method", method).put("params", params).encode(),
                    true).get(10, TimeUnit.SECONDS);
            JsonObject answer = f.get(60, TimeUnit.SECONDS);
            assertTrue(answer.getJsonObject("error") == null, method + ": " + answer);
            return answer.getJsonObject("result");
        }

        /** Evaluates {@code expression} in the page; returns its result ({@code value} for a primitive). */
        JsonObject eval(String expression) throws Exception {
            JsonObject r = call("Runtime.evaluate", new JsonObject().put("expression", expression)
                    .put("returnByValue", true));
            assertTrue(r.getJsonObject("exceptionDetails") == null, expression + ": " + r);
            return r.getJsonObject("result");
        }

        /** Waits until {@code condition} is true in the page. */
        String await(String what, String condition) throws Exception {
            long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (System.nanoTime() < end) {
                if (Boolean.TRUE.equals(eval("(() => { try { return " + condition + "; } catch (e) { return false; }"
                        + " })()").getValue("value"))) {
                    return what;
                }
                Thread.sleep(50);
            }
            throw new AssertionError("timed out waiting for: " + what);
        }

        /** Sets the file input {@code selector} to {@code file}. */
        void attach(String selector, Path file) throws Exception {
            int root = call("DOM.getDocument", new JsonObject().put("depth", 0)).getJsonObject("root")
                    .getInteger("nodeId");
            int node = call("DOM.querySelector", new JsonObject().put("nodeId", root).put("selector", selector))
                    .getInteger("nodeId");
            assertTrue(node != 0, selector + " not found");
            call("DOM.setFileInputFiles", new JsonObject().put("nodeId", node)
                    .put("files", new JsonArray().add(file.toAbsolutePath().toString())));
            assertEquals(1, eval("document.querySelector('" + selector + "').files.length").getInteger("value"));
        }

        @Override
        public void close() throws InterruptedException {
            try {
                socket.abort();
            } finally {
                process.destroy();
                if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
