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
 * previews replace the picture in place, then the PNG with its seed; a control image attached to the panel goes
 * with the job to sd-tiny's ControlNet; a bad field shows INVALID_ARGUMENT naming it.
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

            // a ControlNet job: the control image attached to the panel changes the image of the same seed
            String plain = src;
            java.awt.image.BufferedImage edges = new java.awt.image.BufferedImage(40, 24,
                    java.awt.image.BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < 24; y++) {
                for (int x = 0; x < 40; x++) edges.setRGB(x, y, (x + y) % 5 == 0 ? 0xffffff : 0);
            }
            Path png = tmp.resolve("edges.png");
            javax.imageio.ImageIO.write(edges, "png", png.toFile());
            chrome.attach("#difControl", png);
            chrome.eval("document.getElementById('difControlScale').value = '0.8'; "
                    + "document.getElementById('difStart').click(); true");
            chrome.await("the controlled image arrived", "document.getElementById('difStats').textContent"
                    + ".startsWith('image') && document.getElementById('difStart').disabled === false"
                    + " || document.querySelector('#difStats .error') !== null");
            stats = chrome.eval("document.getElementById('difStats').textContent").getString("value");
            assertTrue(stats.startsWith("image 64x64, seed 9"), stats);
            String controlled = chrome.eval("document.getElementById('difImage').src").getString("value");
            assertTrue(controlled.startsWith("data:image/png;base64,") && !controlled.equals(plain),
                    "the control image changes the image");
            chrome.eval("document.getElementById('difControlScale').value = '-1'; "
                    + "document.getElementById('difStart').click(); true");
            chrome.await("the control_scale error is shown", "document.querySelector('#difStats .error') !== null");
            String scaleError = chrome.eval("document.getElementById('difStats').textContent").getString("value");
            assertTrue(scaleError.startsWith("INVALID_ARGUMENT") && scaleError.contains("[control_scale]"),
                    scaleError);
            chrome.await("the button is enabled again", "!document.getElementById('difStart').disabled");
            chrome.eval("document.getElementById('difControl').value = ''; true");

            chrome.eval("document.getElementById('difSteps').value = '0'; document.getElementById('difStart')"
                    + ".click(); true");
            chrome.await("the error is shown", "document.querySelector('#difStats .error') !== null");
            String error = chrome.eval("document.getElementById('difStats').textContent").getString("value");
            assertTrue(error.startsWith("INVALID_ARGUMENT") && error.contains("[steps]"), error);
        }
    }
}
