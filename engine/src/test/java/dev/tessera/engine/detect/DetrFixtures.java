package dev.tessera.engine.detect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.image.ImageFormat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The fixtures made by {@code tools/make_detr_fixtures.py}, and small helpers over them. */
final class DetrFixtures {
    static final Path ROOT = Path.of("src/test/resources/fixtures");
    static final Path IMAGES = ROOT.resolve("detr-images");
    static final Path TIMM = ROOT.resolve("detr-timm");
    static final Path RESNET = ROOT.resolve("detr-resnet");

    private DetrFixtures() {
    }

    static JsonNode golden(Path model) {
        return json(model.resolve("golden.json"));
    }

    static JsonNode json(Path file) {
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] bytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** HF's resized uint8 image of a case, decoded from its {@code .hf.png}. */
    static DecodedImage hfResized(DetrPreprocessor pre, JsonNode c) {
        return pre.decode(bytes(IMAGES.resolve(c.get("hf_pixels").asText())), ImageFormat.PNG, 0, 0);
    }

    /** The frame HF's model saw: HF's resized pixels, normalized, with the original size for the boxes. */
    static PreparedFrame hfFrame(DetrPreprocessor pre, JsonNode c) {
        DecodedImage img = hfResized(pre, c);
        return new PreparedFrame(pre.normalize(img), img.height(), img.width(), c.get("height").asInt(),
                c.get("width").asInt());
    }

    static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) a.get(i).asDouble();
        return out;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length < b.length) throw new IllegalArgumentException(a.length + " < " + b.length);
        double m = 0;
        for (int i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
