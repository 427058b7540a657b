package dev.tessera.gateway;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.diffusion.DiffusionOptions;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.diffuse.DiffuseConfig;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The browser page's diffusion panel in headless Chromium against a real server serving {@code builtin:sd-tiny}:
 * previews replace the picture in place, then the PNG with its seed; a bad field shows INVALID_ARGUMENT naming it.
 * Tagged "browser" like {@link BrowserPageImageTest}, whose DevTools driver it uses.
 */
@Timeout(300)
@org.junit.jupiter.api.Tag("browser")
class BrowserPageDiffuseTest {
    @Test
    void thePanelShowsPreviewsThenTheImageWithItsSeed(@TempDir Path cache, @TempDir Path tmp) throws Exception {
        ModelSpec sd = new ModelSpec.Diffusion(new DiffusionOptions(BuiltinModels.materialize("sd-tiny", cache),
                cache, 2, "sd-tiny"), DiffuseConfig.DEFAULTS);
        try (TesseraServer server = TesseraServer.start(GatewayTestSupport.loopback(), List.of(sd),
                Scheduler.builder());
             BrowserPageImageTest.Chromium chrome = BrowserPageImageTest.Chromium.launch(tmp.resolve("profile"))) {
            chrome.call("Page.enable", new JsonObject());
            chrome.call("Page.navigate", new JsonObject().put("url", "http://127.0.0.1:" + server.gateway().port()
                    + "/"));
            chrome.await("the page is connected", "document.getElementById('difStart') !== null"
                    + " && !document.getElementById('difStart').disabled");
            chrome.eval("window.previews = []; new MutationObserver(() => window.previews.push("
                    + "document.getElementById('difStats').textContent)).observe(document.getElementById('difStats'),"
                    + " {childList: true, characterData: true, subtree: true}); true");
            chrome.eval("document.getElementById('difSteps').value = '4'; document.getElementById('difSeed').value"
                    + " = '9'; document.getElementById('difStart').click(); true");
            chrome.await("the image arrived", "document.getElementById('difStats').textContent.startsWith('image')"
                    + " || document.querySelector('#difStats .error') !== null");
            String stats = chrome.eval("document.getElementById('difStats').textContent").getString("value");
            assertTrue(stats.startsWith("image 64x64, seed 9"), stats);
            String src = chrome.eval("document.getElementById('difImage').src").getString("value");
            assertTrue(src.startsWith("data:image/png;base64,"), src.substring(0, Math.min(40, src.length())));
            String seen = chrome.eval("window.previews.join('|')").getString("value");
            assertTrue(seen.contains("step 1/4") && seen.contains("step 3/4"), seen);
            chrome.await("the button is enabled again", "!document.getElementById('difStart').disabled");

            chrome.eval("document.getElementById('difSteps').value = '0'; document.getElementById('difStart')"
                    + ".click(); true");
            chrome.await("the error is shown", "document.querySelector('#difStats .error') !== null");
            String error = chrome.eval("document.getElementById('difStats').textContent").getString("value");
            assertTrue(error.startsWith("INVALID_ARGUMENT") && error.contains("[steps]"), error);
        }
    }
}
