package dev.tessera.gateway;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.gateway.BrowserPageImageTest.Chromium;
import dev.tessera.gateway.edge.ApiKeys;
import dev.tessera.gateway.edge.EdgeOptions;
import dev.tessera.scheduler.text.TextConfig;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The browser page against a server that needs API keys, in headless Chromium: without a key it says so; with the
 * key typed in, it sends it as the WebSocket's first message (browsers cannot set headers on an upgrade) and as a
 * header on {@code fetch}, and a generation runs; a wrong key is refused (the socket is closed with 1008) and the
 * page says so. Tagged "browser" (needs Chromium), like {@link BrowserPageImageTest}.
 */
@Timeout(300)
@org.junit.jupiter.api.Tag("browser")
class BrowserPageAuthTest {
    static final String KEY = "page-0123456789abcdef";

    @Test
    void thePageSendsTheApiKeyItIsGiven(@TempDir Path cache, @TempDir Path tmp) throws Exception {
        TextEngineOptions engine = TextEngineOptions.defaults(BuiltinModels.materialize("tiny", cache))
                .withName("tiny").withCacheDir(cache).withKvMemoryBytes(32L << 20).withThreads(2);
        GatewayOptions options = GatewayTestSupport.loopback().withEdge(EdgeOptions.defaults()
                .withApiKeys(ApiKeys.parse(List.of("web:" + KEY), "test")));
        try (TesseraServer server = TesseraServer.start(options, new ModelSpec.Text(engine, TextConfig.defaults()));
             Chromium chrome = Chromium.launch(tmp.resolve("profile"))) {
            chrome.call("Page.enable", new JsonObject());
            chrome.call("Page.navigate", new JsonObject().put("url", "http://127.0.0.1:" + server.gateway().port()
                    + "/"));
            chrome.await("the page says that a key is needed", "document.getElementById('models').textContent"
                    + ".includes('needs an API key')");

            typeKey(chrome, KEY);
            chrome.await("the models are listed with the key", "document.getElementById('models').textContent"
                    + ".startsWith('serving tiny')");
            chrome.await("connected", "document.getElementById('status').textContent === 'connected'");
            chrome.eval("document.getElementById('maxTokens').value = '4';"
                    + " document.getElementById('generate').click(); true");
            chrome.await("the job finished", "document.getElementById('stats').textContent"
                    + ".startsWith('finished') || document.querySelector('#stats .error') !== null");
            String stats = chrome.eval("document.getElementById('stats').textContent").getString("value");
            assertTrue(stats.startsWith("finished: length") && stats.contains("completion 4 tokens"), stats);

            typeKey(chrome, "wrong-0123456789abcdef");
            chrome.await("the wrong key is refused", "document.getElementById('status').textContent"
                    .concat(".startsWith('not connected: unauthenticated')"));
            String models = chrome.eval("document.getElementById('models').textContent").getString("value");
            assertTrue(models.contains("needs an API key"), models);
        }
    }

    /** Types {@code key} into the page's key field, as a user would (a change event). */
    private static void typeKey(Chromium chrome, String key) throws Exception {
        chrome.eval("(() => { const k = document.getElementById('apiKey'); k.value = '" + key + "';"
                + " k.dispatchEvent(new Event('change')); return true; })()");
    }
}
