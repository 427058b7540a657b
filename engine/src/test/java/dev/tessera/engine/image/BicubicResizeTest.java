package dev.tessera.engine.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * Pillow 13.0.0's bicubic resize, bit for bit, of a 40x90 test pattern to sizes on both sides of the rule by which
 * Pillow runs the vertical pass first (the height shrinks by more than twice as many pixels as the width): SHA-256 of
 * the output recorded by {@code tools/make_vlm25_fixtures.py}. The Qwen-VL conformance tests check whole images.
 */
class BicubicResizeTest {
    static final Path GOLDEN = Path.of("src/test/resources/fixtures/qwen2_5-vl/golden.json");

    /** {@code (x*x*7 + y*31 + x*y*3 + c*50) % 256}, the script's {@code pattern}. */
    static DecodedImage pattern(int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    rgb[(y * w + x) * 3 + c] = (byte) ((x * x * 7 + y * 31 + x * y * 3 + c * 50) % 256);
                }
            }
        }
        return new DecodedImage(rgb, w, h);
    }

    @Test
    void equalsPillowInBothPassOrders() throws IOException, NoSuchAlgorithmException {
        JsonNode cases = new ObjectMapper().readTree(GOLDEN.toFile()).get("pillow_bicubic_40x90");
        DecodedImage src = pattern(40, 90);
        int verticalFirst = 0;
        for (JsonNode c : cases) {
            int w = c.get("width").asInt();
            int h = c.get("height").asInt();
            DecodedImage out = BicubicResize.resize(src, w, h);
            String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(out.rgb()));
            assertEquals(c.get("sha256").asText(), sha, "40x90 -> " + w + "x" + h);
            if (h < 90 && 90 - h > 2 * (40 - w)) verticalFirst++;
        }
        assertTrue(verticalFirst >= 3 && verticalFirst < cases.size(), "both orders covered: " + verticalFirst);
    }
}
