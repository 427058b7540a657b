package dev.tessera.gateway.ws;

import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The browser page served at {@code GET /}: plain HTML and vanilla JavaScript (no build step, nothing loaded from
 * elsewhere) that runs generation jobs over the {@link WebSocketBridge} and shows the text as it streams.
 */
public final class BrowserPage {
    /** The page's resource, beside this class. */
    static final String RESOURCE = "index.html";

    private BrowserPage() {
    }

    /** Reads the page from the class path; call once at startup. */
    public static Buffer load() {
        try (InputStream in = BrowserPage.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("resource " + RESOURCE + " is missing beside "
                        + BrowserPage.class.getName());
            }
            return Buffer.buffer(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the browser page", e);
        }
    }
}
