package dev.tessera.engine.text.tokenizer;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/** Paths of the committed HF fixtures (see tools/make_fixtures.py). */
final class Fixtures {
    private Fixtures() {}

    static Path dir(String name) {
        URL url = Fixtures.class.getResource("/fixtures/" + name + "/config.json");
        if (url == null) {
            throw new IllegalStateException("fixture " + name + " missing from test resources");
        }
        try {
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path tokenizerJson() {
        return dir("llama-gqa").resolve("tokenizer.json");
    }
}
